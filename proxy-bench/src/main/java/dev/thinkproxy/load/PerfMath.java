package dev.thinkproxy.load;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The arithmetic of {@link PerfRun}: the order in which the targets run, medians over repetitions, ratios and
 * differences paired by repetition, and CPU per chunk. A value that could not be measured is {@code NaN} and is
 * left out of a median (a median of nothing is {@code NaN}).
 */
final class PerfMath {
  private PerfMath() {}

  /**
   * The order of the targets in one repetition of one scenario: the list rotated left by {@code scenario + rep},
   * so each repetition runs every target once, and over as many repetitions as there are targets each target
   * runs once in every position (first, second, …), whatever drift the machine has over time hitting all alike.
   */
  static <T> List<T> order(List<T> targets, int scenario, int rep) {
    int n = targets.size();
    List<T> out = new ArrayList<>(n);
    int shift = n == 0 ? 0 : Math.floorMod(scenario + rep, n);
    for (int i = 0; i < n; i++) {
      out.add(targets.get((shift + i) % n));
    }
    return out;
  }

  /** The median of the finite values (the mean of the middle two for an even count); NaN if there are none. */
  static double median(double... values) {
    double[] v = Arrays.stream(values).filter(Double::isFinite).sorted().toArray();
    if (v.length == 0) {
      return Double.NaN;
    }
    int mid = v.length / 2;
    return v.length % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  }

  /**
   * The median over repetitions of {@code a[r] / b[r]}: each ratio within one repetition, whose cells ran back to
   * back. Repetitions where either is missing or {@code b[r]} is not positive are left out.
   */
  static double medianRatio(double[] a, double[] b) {
    double[] r = new double[Math.min(a.length, b.length)];
    for (int i = 0; i < r.length; i++) {
      r[i] = b[i] > 0 ? a[i] / b[i] : Double.NaN;
    }
    return median(r);
  }

  /** The median over repetitions of {@code a[r] - b[r]}, paired as in {@link #medianRatio}. */
  static double medianDifference(double[] a, double[] b) {
    double[] d = new double[Math.min(a.length, b.length)];
    for (int i = 0; i < d.length; i++) {
      d[i] = a[i] - b[i];
    }
    return median(d);
  }

  /** Events per second; NaN without time. */
  static double perSecond(long events, double seconds) {
    return seconds > 0 ? events / seconds : Double.NaN;
  }

  /** CPU seconds spent per 100,000 chunks; NaN without chunks or without a CPU reading. */
  static double cpuPer100k(double cpuSeconds, long chunks) {
    return chunks > 0 && Double.isFinite(cpuSeconds) ? cpuSeconds * 100_000 / chunks : Double.NaN;
  }
}
