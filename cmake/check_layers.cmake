# check_layers.cmake — the folders of src/lib are layers, lowest first:
#   base    foundations: errors, memory, CSV, text, geometry, durable files,
#           SQLite plumbing, reject reports, local time, settings
#   store   the data directory: segments, manifest, sealing, subscribers,
#           keys, the catalogue, the open handle
#   risk    the probability of a contact: proximity, evidence, the model
#   ops     what commands do: ingest, cells, cases, trace, query, check and
#           purge, key rotation
#   notify  runs, the outbox, SMS, delivery reports, exports
#   api     the HTTP API: users and roles, the server and its routes
#   sim     the simulator, beside the others: it may use base only
# A module may include the headers of its own layer and of lower layers,
# never of a higher one. Run at configure time (CMakeLists.txt) and as the
# test `layers` (cmake -DROOT=<checkout> -P cmake/check_layers.cmake), so
# an include that breaks the order fails the build or the tests.
if(NOT ROOT)
  set(ROOT ${PROJECT_SOURCE_DIR})
endif()
set(CT_LAYERS base store risk ops notify api)

function(ct_layer_rank layer out)
  if(layer STREQUAL "sim")
    set(${out} -1 PARENT_SCOPE)
  else()
    list(FIND CT_LAYERS ${layer} rank)
    set(${out} ${rank} PARENT_SCOPE)
  endif()
endfunction()

file(GLOB CT_LAYER_DIRS LIST_DIRECTORIES true ${ROOT}/src/lib/*)
set(problems "")
# Which layer each header is in.
file(GLOB_RECURSE headers ${ROOT}/src/lib/*.h)
foreach(h ${headers})
  get_filename_component(name ${h} NAME)
  get_filename_component(dir ${h} DIRECTORY)
  get_filename_component(layer ${dir} NAME)
  set(layer_of_${name} ${layer})
endforeach()
file(GLOB_RECURSE sources ${ROOT}/src/lib/*.c ${ROOT}/src/lib/*.h)
foreach(f ${sources})
  get_filename_component(dir ${f} DIRECTORY)
  get_filename_component(layer ${dir} NAME)
  if(dir STREQUAL "${ROOT}/src/lib")
    string(APPEND problems "  ${f}: in src/lib itself, not in a layer's folder\n")
    continue()
  endif()
  ct_layer_rank(${layer} rank)
  if(rank EQUAL -1 AND NOT layer STREQUAL "sim")
    string(APPEND problems "  ${f}: ${layer}/ is not a layer (see cmake/check_layers.cmake)\n")
    continue()
  endif()
  file(STRINGS ${f} includes REGEX "^#include \"[a-z_0-9]+\\.h\"")
  foreach(line ${includes})
    string(REGEX REPLACE "^#include \"([a-z_0-9]+\\.h)\".*" "\\1" inc "${line}")
    if(NOT DEFINED layer_of_${inc})
      continue() # a public header (include/) or the file's own folder's
    endif()
    set(to ${layer_of_${inc}})
    ct_layer_rank(${to} to_rank)
    if(layer STREQUAL "sim")
      set(bad 0)
      if(NOT (to STREQUAL "sim" OR to STREQUAL "base"))
        set(bad 1)
      endif()
    elseif(to STREQUAL "sim")
      set(bad 1)
    elseif(to_rank GREATER rank)
      set(bad 1)
    else()
      set(bad 0)
    endif()
    if(bad)
      file(RELATIVE_PATH rel ${ROOT} ${f})
      string(APPEND problems "  ${rel} (${layer}) includes ${inc} (${to})\n")
    endif()
  endforeach()
endforeach()
if(problems)
  message(FATAL_ERROR "src/lib layers: a lower layer includes a higher one:\n${problems}")
endif()
