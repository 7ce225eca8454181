#!/usr/bin/env bash
# golden.package: builds the Debian package from the project's own files
# with dpkg-buildpackage, checks what it holds, then installs it into a
# fresh Debian 12 root made by mmdebstrap and runs in_root.sh there
# (install, init as the service user, modes, systemd-analyze verify,
# remove, reinstall, purge). Needs root, dpkg-dev, debhelper, mmdebstrap
# (scripts/setup.sh installs them) and Debian's package mirror: without
# them it exits 77 (skipped), which .ci/run refuses.
#   tests/package/package.sh SOURCE_DIR [WORK_DIR]
set -euo pipefail
src=$(cd "${1:?usage: package.sh SOURCE_DIR [WORK_DIR]}" && pwd)
work=${2:-$(mktemp -d /tmp/ct-package.XXXXXX)}
skip() { echo "package.sh: SKIP: $*" >&2; exit 77; }
fail() { echo "package.sh: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (mmdebstrap and chroot)"
for t in dpkg-buildpackage dh mmdebstrap git; do
    command -v "$t" > /dev/null || skip "$t is not installed (scripts/setup.sh)"
done
git -C "$src" rev-parse --git-dir > /dev/null 2>&1 || skip "$src is not a git checkout"
[ -s "$src/web/dist/index.html" ] || skip "web/dist is not built (scripts/setup.sh)"
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

version=$(sed -n '1s/^celltrace (\([^)]*\)).*/\1/p' "$src/debian/changelog")
tree="$work/celltrace-$version"
mkdir -p "$tree"
# the files git tracks (or would track), as a clone has them, and the built page
git -C "$src" ls-files -co --exclude-standard -z | (cd "$src" && tar --null -T - -cf -) | tar -xf - -C "$tree"
cp -r "$src/web/dist" "$tree/web/"

echo "package.sh: dpkg-buildpackage (nocheck: the suite runs in ctest already)"
(cd "$tree" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -b -us -uc) \
    > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail "dpkg-buildpackage"; }
if grep -E 'warning:' "$work/build.log"; then fail "the build warned"; fi
deb="$work/celltrace_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || fail "no $deb"

echo "package.sh: contents"
dpkg-deb -c "$deb" | awk '{ print $6 }' > "$work/contents.txt"
for f in ./usr/bin/celltrace ./usr/share/man/man1/celltrace.1.gz ./etc/celltrace/celltrace.conf \
         ./etc/default/celltrace ./lib/systemd/system/celltrace-serve.service \
         ./lib/systemd/system/celltrace-notify.service ./lib/systemd/system/celltrace-run.service \
         ./lib/systemd/system/celltrace-run.timer ./lib/systemd/system/celltrace-spool@.service \
         ./usr/share/doc/celltrace/README.Debian; do
    grep -qx "$f" "$work/contents.txt" || fail "the package lacks $f"
done
if grep -E '^\./(var|home|tmp)/' "$work/contents.txt"; then fail "the package ships data paths"; fi
dpkg-deb -f "$deb" Depends | grep -q adduser || fail "no dependency on adduser"
# opened with dlopen by notify and serve (src/lib/base/netlibs.c), so
# dpkg-shlibdeps cannot see them: debian/control names them
for dep in libcurl4 libmicrohttpd12; do
    dpkg-deb -f "$deb" Depends | grep -qw "$dep" || fail "no dependency on $dep"
done

echo "package.sh: a fresh Debian 12 root (mmdebstrap), install and use it there"
mmdebstrap --variant=apt --include=systemd,man-db,curl,procps,iproute2 --quiet \
    --customize-hook="copy-in $deb $src/tests/package/in_root.sh $src/tests/conformance/basic /tmp" \
    --customize-hook="unshare --mount --propagation private chroot \"\$1\" sh /tmp/in_root.sh /tmp/$(basename "$deb")" \
    bookworm /dev/null > "$work/root.log" 2>&1 || { cat "$work/root.log"; fail "in the fresh root"; }
grep -i '^in_root:\|overall exposure' "$work/root.log" || true
grep -q '^in_root: all checks passed' "$work/root.log" || { cat "$work/root.log"; fail "in_root.sh did not finish"; }
echo "package.sh: passed"
