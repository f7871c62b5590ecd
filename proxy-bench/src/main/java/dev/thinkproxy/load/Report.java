package dev.thinkproxy.load;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;

/** The Markdown tables the runners print. */
final class Report {
  private Report() {}

  /** Streams by kind (rows) and outcome (columns, only those seen). */
  static String outcomes(LoadStats s) {
    EnumSet<StreamOutcome> seen = EnumSet.noneOf(StreamOutcome.class);
    for (StreamOutcome o : StreamOutcome.values()) {
      if (s.count(o) > 0) {
        seen.add(o);
      }
    }
    String[] headers = new String[seen.size() + 2];
    headers[0] = "kind";
    int i = 1;
    for (StreamOutcome o : seen) {
      headers[i++] = o.label();
    }
    headers[i] = "total";
    MarkdownTable t = new MarkdownTable(headers);
    for (String kind : s.kinds()) {
      Object[] row = new Object[headers.length];
      row[0] = kind;
      int j = 1;
      long sum = 0;
      for (StreamOutcome o : seen) {
        long n = s.count(kind, o);
        sum += n;
        row[j++] = n;
      }
      row[j] = sum;
      t.row(row);
    }
    return t.toString();
  }

  /** The distinct failure reasons, most frequent first. */
  static String reasons(LoadStats s) {
    if (s.reasons().isEmpty()) {
      return "(no failures)\n";
    }
    MarkdownTable t = new MarkdownTable("failure reason", "streams");
    s.reasons().entrySet().stream()
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .forEach(e -> t.row("`" + e.getKey().replace("|", "\\|") + "`", e.getValue()));
    return t.toString();
  }

  /** Latency percentiles in ms for each labelled run. */
  static String latency(Map<String, LoadStats> runs) {
    MarkdownTable t = new MarkdownTable("run", "metric", "n", "p50 ms", "p90 ms", "p99 ms", "max ms");
    runs.forEach((label, s) -> {
      latencyRow(t, label, "time to first byte", s.ttfb());
      latencyRow(t, label, "time to first answer", s.ttfc());
      latencyRow(t, label, "gap between chunks", s.gap());
    });
    return t.toString();
  }

  static void latencyRow(MarkdownTable t, String label, String metric, Histogram h) {
    t.row(label, metric, h.count(), ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)), ms(h.max()));
  }

  static String ms(long micros) {
    double ms = micros / 1000.0;
    return String.format(Locale.ROOT, ms < 10 ? "%.2f" : ms < 1000 ? "%.1f" : "%.0f", ms);
  }

  static String mib(long bytes) {
    return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", bytes / 1048576.0);
  }

  /** Bytes per stream as KiB, or n/a. */
  static String kibPer(long bytes, long n) {
    return n <= 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", bytes / 1024.0 / n);
  }
}
