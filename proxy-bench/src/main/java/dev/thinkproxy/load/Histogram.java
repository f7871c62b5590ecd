package dev.thinkproxy.load;

import java.util.Arrays;

/**
 * A log-linear histogram of non-negative longs in the manner of HdrHistogram: values below 256 are counted
 * exactly, larger ones in 128 buckets per power of two, so a reported percentile is at most 1/128 (0.8 %)
 * above the exact one and never below it. Count, min, max and sum are exact. Not thread-safe.
 */
public final class Histogram {
  private static final int SUB_BITS = 7;
  private static final int SUB_COUNT = 1 << SUB_BITS;
  private static final int EXACT_LIMIT = SUB_COUNT << 1;

  private long[] counts = new long[EXACT_LIMIT];
  private long count;
  private long min = Long.MAX_VALUE;
  private long max;
  private long sum;

  /** Adds one value; a negative value counts as 0. */
  public void record(long value) {
    long v = Math.max(0, value);
    int index = indexOf(v);
    if (index >= counts.length) {
      counts = Arrays.copyOf(counts, Math.max(index + 1, counts.length * 2));
    }
    counts[index]++;
    count++;
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }

  /** Adds every value of {@code other}. */
  public void add(Histogram other) {
    if (other.counts.length > counts.length) {
      counts = Arrays.copyOf(counts, other.counts.length);
    }
    for (int i = 0; i < other.counts.length; i++) {
      counts[i] += other.counts[i];
    }
    count += other.count;
    min = Math.min(min, other.min);
    max = Math.max(max, other.max);
    sum += other.sum;
  }

  public Histogram copy() {
    Histogram h = new Histogram();
    h.add(this);
    return h;
  }

  public long count() {
    return count;
  }

  /** The smallest value, or 0 when empty. */
  public long min() {
    return count == 0 ? 0 : min;
  }

  /** The largest value, or 0 when empty. */
  public long max() {
    return max;
  }

  public double mean() {
    return count == 0 ? 0 : (double) sum / count;
  }

  /**
   * The nearest-rank percentile: the smallest recorded value with at least {@code p} % of the values at or below
   * it, rounded up to the top of its bucket (capped at the maximum); 0 when empty.
   */
  public long percentile(double p) {
    if (count == 0) {
      return 0;
    }
    long rank = Math.max(1, (long) Math.ceil(Math.min(100, Math.max(0, p)) / 100 * count));
    long seen = 0;
    for (int i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (seen >= rank) {
        return Math.min(highestEquivalent(i), max);
      }
    }
    return max;
  }

  static int indexOf(long v) {
    if (v < EXACT_LIMIT) {
      return (int) v;
    }
    int exponent = 63 - Long.numberOfLeadingZeros(v);
    int sub = (int) (v >>> (exponent - SUB_BITS));
    return EXACT_LIMIT + (exponent - SUB_BITS - 1) * SUB_COUNT + (sub - SUB_COUNT);
  }

  static long highestEquivalent(int index) {
    if (index < EXACT_LIMIT) {
      return index;
    }
    int exponent = (index - EXACT_LIMIT) / SUB_COUNT + SUB_BITS + 1;
    long sub = SUB_COUNT + (index - EXACT_LIMIT) % SUB_COUNT;
    int shift = exponent - SUB_BITS;
    return ((sub + 1) << shift) - 1;
  }
}
