package dev.thinkproxy.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

class HistogramTest {
  private static final double[] PERCENTILES = {0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

  @Test
  void smallValuesAreExact() {
    Histogram h = new Histogram();
    long[] values = new long[255];
    for (int i = 0; i < values.length; i++) {
      values[i] = 254 - i;
      h.record(values[i]);
    }
    Arrays.sort(values);
    for (double p : PERCENTILES) {
      assertThat(h.percentile(p)).as("p%s", p).isEqualTo(nearestRank(values, p));
    }
  }

  @Test
  void percentilesAreWithinOneBucketAboveTheExactOnes() {
    SplittableRandom random = new SplittableRandom(42);
    check(() -> random.nextLong(1_000_000), 10_000);
    check(() -> (long) Math.exp(random.nextDouble() * 30), 20_000);
    check(() -> random.nextInt(10) == 0 ? 5_000_000 + random.nextInt(1000) : random.nextInt(300), 5_000);
    check(() -> Long.MAX_VALUE - random.nextInt(3), 100);
    check(() -> 777, 3);
  }

  private static void check(LongSupplier source, int n) {
    Histogram h = new Histogram();
    long[] values = new long[n];
    long sum = 0;
    for (int i = 0; i < n; i++) {
      values[i] = source.getAsLong();
      h.record(values[i]);
      sum += values[i];
    }
    Arrays.sort(values);
    for (double p : PERCENTILES) {
      long exact = nearestRank(values, p);
      assertThat(h.percentile(p)).as("p%s of %d values", p, n)
          .isGreaterThanOrEqualTo(exact)
          .isLessThanOrEqualTo(exact + Math.min(exact / 128, Long.MAX_VALUE - exact));
    }
    assertThat(h.count()).isEqualTo(n);
    assertThat(h.min()).isEqualTo(values[0]);
    assertThat(h.max()).isEqualTo(values[n - 1]);
    if (values[n - 1] < Long.MAX_VALUE / n) {
      assertThat(h.mean()).isEqualTo((double) sum / n);
    }
  }

  @Test
  void addedHistogramsEqualOneRecordingBoth() {
    SplittableRandom random = new SplittableRandom(7);
    Histogram a = new Histogram();
    Histogram b = new Histogram();
    Histogram both = new Histogram();
    for (int i = 0; i < 5000; i++) {
      long v = random.nextLong(1L << random.nextInt(40));
      (i % 2 == 0 ? a : b).record(v);
      both.record(v);
    }
    Histogram sum = a.copy();
    sum.add(b);
    for (double p : PERCENTILES) {
      assertThat(sum.percentile(p)).isEqualTo(both.percentile(p));
    }
    assertThat(sum.count()).isEqualTo(both.count());
    assertThat(sum.max()).isEqualTo(both.max());
  }

  @Test
  void bucketsTileTheRange() {
    for (int i = 1; i < Histogram.indexOf(Long.MAX_VALUE); i++) {
      assertThat(Histogram.indexOf(Histogram.highestEquivalent(i - 1) + 1)).isEqualTo(i);
      assertThat(Histogram.indexOf(Histogram.highestEquivalent(i))).isEqualTo(i);
    }
  }

  @Test
  void emptyAndNegative() {
    Histogram h = new Histogram();
    assertThat(h.percentile(50)).isZero();
    assertThat(h.max()).isZero();
    h.record(-5);
    assertThat(h.percentile(100)).isZero();
  }

  private static long nearestRank(long[] sorted, double p) {
    int rank = (int) Math.max(1, Math.ceil(p / 100 * sorted.length));
    return sorted[rank - 1];
  }
}
