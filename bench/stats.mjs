// stats.mjs — the median both reports use (the middle value, or the mean
// of the two middle ones; null for no values).
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : null;
};
