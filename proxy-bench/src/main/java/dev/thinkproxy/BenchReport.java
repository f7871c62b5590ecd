package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns a JMH JSON result file ({@code -rf json}) of this module into the per-chunk tables of
 * {@code docs/PERFORMANCE.md}: chunks/s (ops/s × chunks per stream), time per chunk relative to the two
 * baselines, and bytes allocated per chunk ({@code gc.alloc.rate.norm} ÷ chunks per stream, needs {@code -prof gc}).
 *
 * <pre>java -cp proxy-bench/target/benchmarks.jar dev.thinkproxy.BenchReport jmh-result.json</pre>
 *
 * Without an argument it only describes the streams.
 */
public final class BenchReport {
  private static final String PREFIX = "dev.thinkproxy.";

  private BenchReport() {}

  public static void main(String[] args) throws IOException {
    ObjectMapper mapper = BenchStreams.mapper();
    System.out.println("## Streams\n");
    System.out.println("| stream | chunks | bytes | events passed verbatim (incl. [DONE]) | rewritten "
        + "| dropped (text held back) | events out |");
    System.out.println("|---|---:|---:|---:|---:|---:|---:|");
    for (String s : List.of(BenchStreams.VLLM, BenchStreams.DEEPSEEK)) {
      describe(s, mapper);
    }
    int chars = ThinkTagProcessorBenchmark.chars();
    int tokens = BenchStreams.vllmTokens().size();
    System.out.printf(Locale.ROOT, "%nThinkTagProcessor input: %d tokens, %d chars%n", tokens, chars);
    if (args.length == 0) {
      return;
    }

    JsonNode results = mapper.readTree(new File(args[0]));
    Map<String, JsonNode> byKey = new LinkedHashMap<>();
    for (JsonNode r : results) {
      String name = r.get("benchmark").asText().substring(PREFIX.length());
      String stream = r.path("params").path("stream").asText("");
      byKey.put(name + (stream.isEmpty() ? "" : "@" + stream), r);
    }

    System.out.println("\n## ThinkTagProcessor alone (vLLM token texts)\n");
    System.out.println("| benchmark | ops/s (± 99.9 %) | tokens/s | chars/s | ns/token | B allocated/token |");
    System.out.println("|---|---:|---:|---:|---:|---:|");
    JsonNode p = byKey.get("ThinkTagProcessorBenchmark.feedTokensThenFinish");
    if (p != null) {
      double ops = score(p);
      System.out.printf(Locale.ROOT, "| feed %d tokens + finish | %s ± %s | %s | %s | %.0f | %s |%n", tokens,
          fmt(ops), fmt(error(p)), fmt(ops * tokens), fmt(ops * chars), 1e9 / (ops * tokens),
          alloc(p, tokens));
    }

    for (String s : List.of(BenchStreams.VLLM, BenchStreams.DEEPSEEK)) {
      int chunks = BenchStreams.chunkCount(BenchStreams.events(s));
      JsonNode parseSer = byKey.get("StreamRewriteBenchmark.parseSerialise@" + s);
      JsonNode forward = byKey.get("StreamRewriteBenchmark.forwardUntouched@" + s);
      System.out.printf(Locale.ROOT, "%n## Stream `%s` (%d chunks per op)%n%n", s, chunks);
      System.out.println("| benchmark | streams/s (± 99.9 %) | chunks/s | ns/chunk | time vs parse+serialise "
          + "| time vs forward-untouched | B allocated/chunk |");
      System.out.println("|---|---:|---:|---:|---:|---:|---:|");
      for (String b : List.of("rewrite", "parseSerialise", "parseOnlyForwardRaw", "forwardUntouched")) {
        JsonNode r = byKey.get("StreamRewriteBenchmark." + b + "@" + s);
        if (r == null) {
          continue;
        }
        double ops = score(r);
        System.out.printf(Locale.ROOT, "| %s | %s ± %s | %s | %.0f | %s | %s | %s |%n", b, fmt(ops), fmt(error(r)),
            fmt(ops * chunks), 1e9 / (ops * chunks), ratio(parseSer, ops), ratio(forward, ops), alloc(r, chunks));
      }
    }
  }

  private static void describe(String stream, ObjectMapper mapper) {
    List<byte[]> events = BenchStreams.events(stream);
    SseRewriter r = new SseRewriter(new ChunkRewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, false, mapper), mapper, Long.MAX_VALUE);
    int verbatim = 0;
    int rewritten = 0;
    int dropped = 0;
    int bytes = 0;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int eventsOut = 0;
    for (byte[] e : events) {
      bytes += e.length;
      out.reset();
      r.feed(e, 0, e.length, out);
      byte[] o = out.toByteArray();
      eventsOut += countEvents(o);
      if (Arrays.equals(o, e)) {
        verbatim++;
      } else if (o.length == 0) {
        dropped++;
      } else {
        rewritten++;
      }
    }
    out.reset();
    r.finish(out);
    eventsOut += countEvents(out.toByteArray());
    System.out.printf(Locale.ROOT, "| %s | %d | %d | %d | %d | %d | %d |%n", stream, BenchStreams.chunkCount(events),
        bytes, verbatim, rewritten, dropped, eventsOut);
  }

  private static int countEvents(byte[] b) {
    int n = 0;
    for (int i = 1; i < b.length; i++) {
      if (b[i] == '\n' && b[i - 1] == '\n') {
        n++;
      }
    }
    return n;
  }

  private static double score(JsonNode r) {
    return r.path("primaryMetric").path("score").asDouble();
  }

  private static double error(JsonNode r) {
    return r.path("primaryMetric").path("scoreError").asDouble();
  }

  /** Time per op of {@code ops} relative to the baseline's: baseline ops/s ÷ ops/s. */
  private static String ratio(JsonNode baseline, double ops) {
    if (baseline == null) {
      return "–";
    }
    double r = score(baseline) / ops;
    return String.format(Locale.ROOT, r < 0.1 ? "%.4f×" : r < 10 ? "%.2f×" : "%.0f×", r);
  }

  private static String alloc(JsonNode r, int per) {
    JsonNode norm = r.path("secondaryMetrics").path("gc.alloc.rate.norm");
    if (norm.isMissingNode()) {
      return "(run with -prof gc)";
    }
    return String.format(Locale.ROOT, "%.0f", norm.path("score").asDouble() / per);
  }

  private static String fmt(double v) {
    if (v >= 1e6) {
      return String.format(Locale.ROOT, "%.2f M", v / 1e6);
    }
    if (v >= 1e3) {
      return String.format(Locale.ROOT, "%.1f k", v / 1e3);
    }
    return String.format(Locale.ROOT, "%.1f", v);
  }
}
