package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One operation = one whole response stream (see {@link BenchStreams}), fed one SSE event per call, written into
 * a reused {@link ByteArrayOutputStream} (reset per operation, so its growth is not measured). Chunks per second =
 * ops/s × the stream's chunk count.
 *
 * <ul>
 *   <li>{@link #rewrite}: the production path of {@code --think-mode split}: {@link SseRewriter} over
 *       {@code new ChunkRewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, false, mapper)}, a fresh pair per stream as
 *       {@code Exchange} creates them.</li>
 *   <li>{@link #parseSerialise} (baseline A): for each event, the data JSON parsed into a Jackson tree and
 *       serialised back, with the same mapper configuration and calls as the proxy; no think logic.</li>
 *   <li>{@link #parseOnlyForwardRaw} (diagnostic): for each event, the data JSON parsed into a tree and discarded,
 *       the original bytes forwarded: the least an event can cost if the decision "unchanged" needs a tree.</li>
 *   <li>{@link #forwardUntouched} (baseline B): the bytes of each event copied to the output, as
 *       {@code --think-mode off} relays them.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Threads(1)
public class StreamRewriteBenchmark {
  private static final byte[] DATA_SPACE = "data: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

  @Param({BenchStreams.VLLM, BenchStreams.DEEPSEEK})
  public String stream;

  private byte[][] events;
  private ObjectMapper mapper;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 16);

  @Setup
  public void setup() {
    List<byte[]> list = BenchStreams.events(stream);
    events = list.toArray(new byte[0][]);
    mapper = BenchStreams.mapper();
    // Guard against measuring a no-op: the vLLM stream must come out split.
    String rewritten = new String(BenchStreams.rewriteAll(list, mapper), StandardCharsets.UTF_8);
    if (stream.equals(BenchStreams.VLLM)
        && (rewritten.contains("<think>") || rewritten.contains("</think>") || !rewritten.contains("reasoning_content"))) {
      throw new IllegalStateException("the vLLM stream was not split:\n" + rewritten);
    }
  }

  @Benchmark
  public int rewrite() {
    ByteArrayOutputStream o = out;
    o.reset();
    SseRewriter r = new SseRewriter(new ChunkRewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, false, mapper), mapper, Long.MAX_VALUE);
    for (byte[] e : events) {
      r.feed(e, 0, e.length, o);
    }
    r.finish(o);
    return o.size();
  }

  @Benchmark
  public int parseSerialise() throws IOException {
    ByteArrayOutputStream o = out;
    o.reset();
    for (byte[] e : events) {
      int start = payloadStart(e);
      int end = payloadEnd(e);
      if (isDone(e, start, end)) {
        o.write(e, 0, e.length);
        continue;
      }
      JsonNode node = mapper.readTree(e, start, end - start);
      o.write(DATA_SPACE, 0, DATA_SPACE.length);
      o.write(mapper.writeValueAsBytes(node));
      o.write('\n');
      o.write('\n');
    }
    return o.size();
  }

  @Benchmark
  public int parseOnlyForwardRaw() throws IOException {
    ByteArrayOutputStream o = out;
    o.reset();
    int fields = 0;
    for (byte[] e : events) {
      int start = payloadStart(e);
      int end = payloadEnd(e);
      if (!isDone(e, start, end)) {
        fields += mapper.readTree(e, start, end - start).size();
      }
      o.write(e, 0, e.length);
    }
    return o.size() + fields;
  }

  @Benchmark
  public int forwardUntouched() {
    ByteArrayOutputStream o = out;
    o.reset();
    for (byte[] e : events) {
      o.write(e, 0, e.length);
    }
    return o.size();
  }

  /** After {@code data:} and one optional space. */
  private static int payloadStart(byte[] e) {
    int v = 5;
    return v < e.length && e[v] == ' ' ? v + 1 : v;
  }

  /** Before the line ends. */
  private static int payloadEnd(byte[] e) {
    int end = e.length;
    while (end > 0 && (e[end - 1] == '\n' || e[end - 1] == '\r')) {
      end--;
    }
    return end;
  }

  private static boolean isDone(byte[] e, int start, int end) {
    if (end - start != DONE.length) {
      return false;
    }
    for (int i = 0; i < DONE.length; i++) {
      if (e[start + i] != DONE[i]) {
        return false;
      }
    }
    return true;
  }
}
