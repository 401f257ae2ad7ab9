# median(key): the median of v[key, 1 .. n[key]], or -1 if there is none. bench.sh and ab.sh
# put it into their awk programs.
function median(key,   c, i, j, t, a) {
    c = n[key]; if (c == 0) return -1
    for (i = 1; i <= c; i++) a[i] = v[key, i]
    for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
