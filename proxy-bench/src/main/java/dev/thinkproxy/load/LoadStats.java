package dev.thinkproxy.load;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the load client measured over a span of time: streams by kind and outcome, latency histograms in
 * microseconds, event and byte counts, and the distinct failure reasons seen. Mutated on the client's loop
 * thread only; others get copies.
 */
public final class LoadStats {
  private static final int MAX_REASONS = 30;

  private final Map<String, EnumMap<StreamOutcome, Long>> outcomes = new LinkedHashMap<>();
  private final Map<String, Long> reasons = new LinkedHashMap<>();
  /** First response byte, from the start of the connect. */
  final Histogram ttfb = new Histogram();
  /**
   * First answer text: non-empty {@code choices[0].delta.content} outside a leading {@code <think>} block, from
   * the start of the connect.
   */
  final Histogram ttfc = new Histogram();
  /** Between consecutive chunk events of a stream. */
  final Histogram gap = new Histogram();
  /** Whole stream, connect to end. */
  final Histogram duration = new Histogram();
  long events;
  long contentEvents;
  long reasoningEvents;
  long malformedEvents;
  long bytes;

  void recordOutcome(String kind, StreamOutcome outcome, String reason) {
    outcomes.computeIfAbsent(kind, k -> new EnumMap<>(StreamOutcome.class)).merge(outcome, 1L, Long::sum);
    if (reason != null && (reasons.containsKey(reason) || reasons.size() < MAX_REASONS)) {
      reasons.merge(reason, 1L, Long::sum);
    }
  }

  public Histogram ttfb() {
    return ttfb;
  }

  public Histogram ttfc() {
    return ttfc;
  }

  public Histogram gap() {
    return gap;
  }

  public Histogram duration() {
    return duration;
  }

  public long events() {
    return events;
  }

  public long contentEvents() {
    return contentEvents;
  }

  /** Events that carried non-empty {@code delta.reasoning_content} (the proxy's rewrite at work). */
  public long reasoningEvents() {
    return reasoningEvents;
  }

  /** Events whose data was not JSON (nor [DONE]). */
  public long malformedEvents() {
    return malformedEvents;
  }

  public long bytes() {
    return bytes;
  }

  /** Streams that ended, all kinds and outcomes. */
  public long streams() {
    long n = 0;
    for (EnumMap<StreamOutcome, Long> m : outcomes.values()) {
      for (long c : m.values()) {
        n += c;
      }
    }
    return n;
  }

  public long count(StreamOutcome outcome) {
    long n = 0;
    for (EnumMap<StreamOutcome, Long> m : outcomes.values()) {
      n += m.getOrDefault(outcome, 0L);
    }
    return n;
  }

  public long count(String kind, StreamOutcome outcome) {
    EnumMap<StreamOutcome, Long> m = outcomes.get(kind);
    return m == null ? 0 : m.getOrDefault(outcome, 0L);
  }

  /** The kinds seen, in order of first appearance. */
  public Iterable<String> kinds() {
    return outcomes.keySet();
  }

  /** Failure reasons and how often each was seen (the first {@value #MAX_REASONS} distinct ones). */
  public Map<String, Long> reasons() {
    return reasons;
  }

  public LoadStats copy() {
    LoadStats c = new LoadStats();
    outcomes.forEach((k, v) -> c.outcomes.put(k, new EnumMap<>(v)));
    c.reasons.putAll(reasons);
    c.ttfb.add(ttfb);
    c.ttfc.add(ttfc);
    c.gap.add(gap);
    c.duration.add(duration);
    c.events = events;
    c.contentEvents = contentEvents;
    c.reasoningEvents = reasoningEvents;
    c.malformedEvents = malformedEvents;
    c.bytes = bytes;
    return c;
  }
}
