// format.mjs — the peers' values written the way celltrace writes them
// (compare.mjs, places_compare.mjs).

export function isoTime(t) {
  return new Date(Number(t) * 1000).toISOString().replace('.000Z', 'Z');
}

// printf("%.2f") then trailing zeros (and a bare '.') dropped, as
// celltrace's ct_format_radius. toFixed rounds the exact binary value like
// printf except on exact ties, which for doubles are the odd multiples of
// 1/8; printf rounds those half to even.
export function radius(text) {
  const x = Number(text);
  let s = x.toFixed(2);
  if (Number.isInteger(x * 8) && !Number.isInteger(x * 4)) {
    const up = Math.floor(x * 100) + 1, down = Math.floor(x * 100);
    const n = down % 2 === 0 ? down : up;
    s = (n / 100).toFixed(2);
  }
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}
