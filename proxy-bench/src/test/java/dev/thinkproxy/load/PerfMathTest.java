package dev.thinkproxy.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PerfMathTest {
  private static final List<String> TARGETS = List.of("direct", "jetty", "thinkproxy", "tomcat-servlet");
  private static final double NAN = Double.NaN;

  @Test
  void everyRepetitionRunsEveryTargetOnce() {
    for (int scenario = 0; scenario < 5; scenario++) {
      for (int rep = 0; rep < 7; rep++) {
        assertThat(PerfMath.order(TARGETS, scenario, rep)).containsExactlyInAnyOrderElementsOf(TARGETS);
      }
    }
  }

  @Test
  void theOrderRotatesSoEachTargetTakesEveryPosition() {
    assertThat(PerfMath.order(TARGETS, 0, 0)).containsExactly("direct", "jetty", "thinkproxy", "tomcat-servlet");
    assertThat(PerfMath.order(TARGETS, 0, 1)).containsExactly("jetty", "thinkproxy", "tomcat-servlet", "direct");
    assertThat(PerfMath.order(TARGETS, 1, 0)).containsExactly("jetty", "thinkproxy", "tomcat-servlet", "direct");
    for (int scenario = 0; scenario < 3; scenario++) {
      List<Set<String>> seenAt = new ArrayList<>();
      for (int pos = 0; pos < TARGETS.size(); pos++) {
        seenAt.add(new HashSet<>());
      }
      for (int rep = 0; rep < TARGETS.size(); rep++) {
        List<String> order = PerfMath.order(TARGETS, scenario, rep);
        for (int pos = 0; pos < order.size(); pos++) {
          seenAt.get(pos).add(order.get(pos));
        }
      }
      for (Set<String> s : seenAt) {
        assertThat(s).containsExactlyInAnyOrderElementsOf(TARGETS);
      }
    }
  }

  @Test
  void medianOfOddAndEvenCountsLeavingOutWhatWasNotMeasured() {
    assertThat(PerfMath.median(3, 1, 2)).isEqualTo(2);
    assertThat(PerfMath.median(4, 1, 3, 2)).isEqualTo(2.5);
    assertThat(PerfMath.median(5, NAN, 1)).isEqualTo(3);
    assertThat(PerfMath.median(7)).isEqualTo(7);
    assertThat(PerfMath.median(NAN, Double.POSITIVE_INFINITY)).isNaN();
    assertThat(PerfMath.median()).isNaN();
  }

  @Test
  void ratiosArePairedByRepetitionBeforeTheMedian() {
    // Drift: everything doubles from one repetition to the next; the paired ratio stays 0.5.
    double[] proxy = {50, 100, 200};
    double[] direct = {100, 200, 400};
    assertThat(PerfMath.medianRatio(proxy, direct)).isEqualTo(0.5);
    // A repetition without a baseline (or with none of it) is left out.
    assertThat(PerfMath.medianRatio(new double[] {10, 30, 90}, new double[] {20, NAN, 0})).isEqualTo(0.5);
    assertThat(PerfMath.medianRatio(new double[] {1}, new double[] {NAN})).isNaN();
  }

  @Test
  void differencesArePairedByRepetition() {
    double[] proxy = {12, 25, 31};
    double[] direct = {10, 20, 30};
    assertThat(PerfMath.medianDifference(proxy, direct)).isEqualTo(2);
    assertThat(PerfMath.medianDifference(new double[] {9, NAN}, new double[] {10, 1})).isEqualTo(-1);
  }

  @Test
  void cpuPerHundredThousandChunks() {
    assertThat(PerfMath.cpuPer100k(1.5, 300_000)).isCloseTo(0.5, within(1e-12));
    assertThat(PerfMath.cpuPer100k(0.02, 2_000)).isCloseTo(1.0, within(1e-12));
    assertThat(PerfMath.cpuPer100k(1.0, 0)).isNaN();
    assertThat(PerfMath.cpuPer100k(NAN, 100)).isNaN();
  }

  @Test
  void perSecond() {
    assertThat(PerfMath.perSecond(25_000, 2.5)).isEqualTo(10_000);
    assertThat(PerfMath.perSecond(10, 0)).isNaN();
  }
}
