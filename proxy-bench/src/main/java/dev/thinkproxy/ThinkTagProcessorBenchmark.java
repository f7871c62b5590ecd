package dev.thinkproxy;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * {@link ThinkTagProcessor} alone, no JSON: one operation feeds the 198 content token texts of the vLLM stream
 * (see {@link BenchStreams}) one by one to a fresh processor, then finishes it. Characters per second = ops/s ×
 * {@link #chars()}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Threads(1)
public class ThinkTagProcessorBenchmark {
  private String[] tokens;

  @Setup
  public void setup() {
    tokens = BenchStreams.vllmTokens().toArray(new String[0]);
  }

  @Benchmark
  public void feedTokensThenFinish(Blackhole bh) {
    ThinkTagProcessor p = ThinkOptions.defaults().newProcessor(false);
    for (String t : tokens) {
      List<ThinkTagProcessor.Segment> segments = p.feed(t);
      bh.consume(segments);
    }
    bh.consume(p.finish());
  }

  /** Characters fed per operation. */
  static int chars() {
    int n = 0;
    for (String t : BenchStreams.vllmTokens()) {
      n += t.length();
    }
    return n;
  }
}
