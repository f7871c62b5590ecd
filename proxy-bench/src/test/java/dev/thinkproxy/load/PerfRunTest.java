package dev.thinkproxy.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PerfRunTest {
  private static final Set<String> OPTIONS = Set.of("--scenarios", "--cell", "--s1-concurrency", "--s3-streams");

  @Test
  void scenariosByDefaultAndQuick() {
    List<PerfRun.Scenario> all = PerfRun.scenarios(Args.parse(new String[0], Set.of(), OPTIONS), false);
    assertThat(all).extracting(PerfRun.Scenario::id).containsExactly("S1 c=1", "S1 c=50", "S2", "S3");
    assertThat(all.get(1).query()).isEqualTo("chunks=200&delay_ms=5&size=16&reasoning=0.5");
    assertThat(all.get(1).duration()).isEqualTo(Duration.ofSeconds(10));
    assertThat(all.get(2).query()).startsWith("chunks=2000&delay_ms=0&");
    assertThat(all.get(2).concurrency()).isEqualTo(64);
    PerfRun.Scenario s3 = all.get(3);
    assertThat(s3.closedLoop()).isFalse();
    assertThat(s3.streams()).isEqualTo(1000);
    assertThat(s3.streamLength()).isEqualTo(Duration.ofSeconds(30));

    List<PerfRun.Scenario> quick = PerfRun.scenarios(
        Args.parse(new String[] {"--scenarios", "s3,S2", "--s3-streams", "10000"}, Set.of(), OPTIONS), true);
    assertThat(quick).extracting(PerfRun.Scenario::id).containsExactly("S2", "S3");
    assertThat(quick.get(0).duration()).isEqualTo(Duration.ofSeconds(3));
    assertThat(quick.get(1).streams()).isEqualTo(10_000);
    assertThat(quick.get(1).streamLength()).isEqualTo(Duration.ofSeconds(3));
  }

  @Test
  void unknownScenarioIsRefused() {
    Args a = Args.parse(new String[] {"--scenarios", "S4"}, Set.of(), OPTIONS);
    assertThatThrownBy(() -> PerfRun.scenarios(a, false)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void summaryRowsCompareWithDirectAndJettyRepetitionByRepetition() {
    Map<String, PerfRun.Cell[]> cells = new LinkedHashMap<>();
    // Three repetitions; the machine gets faster each time, every target alike.
    cells.put("direct", new PerfRun.Cell[] {cell("direct", 100_000, 0.2, 500), cell("direct", 200_000, 0.4, 500),
        cell("direct", 400_000, 0.8, 500)});
    cells.put("jetty", new PerfRun.Cell[] {cell("jetty", 80_000, 0.8, 510), cell("jetty", 160_000, 1.6, 512),
        cell("jetty", 320_000, 3.2, 514)});
    cells.put("thinkproxy", new PerfRun.Cell[] {cell("thinkproxy", 40_000, 1.2, 530),
        cell("thinkproxy", 80_000, 2.4, 540), cell("thinkproxy", 160_000, 4.8, 520)});
    String table = PerfRun.summaryTable(cells).toString();
    // chunks/s is the median, the ratios are the per-repetition ones, CPU per 100k chunks from the window.
    assertThat(table).contains("| thinkproxy | 300 / 0 | 8000 | 0.40 | 0.50 | +30.0 / +30.0, mean +30.0 |");
    assertThat(table).contains("| 3.000 |");
    assertThat(table).contains("| jetty | 300 / 0 | 16000 | 0.80 | 1.00 | +12.0 / +12.0, mean +12.0 |");
    assertThat(table).contains("| 1.000 |");
    assertThat(table).contains("| direct | 300 / 0 | 20000 | 1.00 | 1.25 | (500.0 / 500.0, mean 500.0) |");
    assertThat(table).contains("(mock 0.200)");
  }

  @Test
  void failedAndCutOffStreamsCount() {
    LoadStats s = new LoadStats();
    s.recordOutcome("normal", StreamOutcome.DONE, null);
    s.recordOutcome("normal", StreamOutcome.BROKEN, "reset");
    PerfRun.Cell c = new PerfRun.Cell("thinkproxy", 0, 0, s, 0, 1, Double.NaN, -1, -1, 3, List.of());
    assertThat(c.done()).isEqualTo(1);
    assertThat(c.failed()).isEqualTo(4);
    assertThat(c.cpuPer100k()).isNaN();
  }

  @Test
  void signedMilliseconds() {
    assertThat(PerfRun.signedMs(1.234)).isEqualTo("+1.23");
    assertThat(PerfRun.signedMs(-12.34)).isEqualTo("-12.3");
    assertThat(PerfRun.signedMs(Double.NaN)).isEqualTo("n/a");
  }

  /** A cell of 10 s with 100 streams done, {@code events} chunk events, and every first answer at {@code ttfcMs}. */
  private static PerfRun.Cell cell(String target, long events, double cpuSeconds, long ttfcMs) {
    LoadStats s = new LoadStats();
    for (int i = 0; i < 100; i++) {
      s.recordOutcome("normal", StreamOutcome.DONE, null);
      s.ttfc.record(ttfcMs * 1000);
      s.ttfb.record(1000);
      s.gap.record(5000);
    }
    s.events = events;
    return new PerfRun.Cell(target, 0, 0, s, events, 10, cpuSeconds, 100L << 20, 20, 0, List.of());
  }
}
