package dev.thinkproxy;

import dev.thinkproxy.ThinkTagProcessor.Kind;
import dev.thinkproxy.ThinkTagProcessor.Segment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Test helper: feeds pieces to a processor, finishes it, and collects what came out. */
record ThinkRun(String reasoning, String content, List<Segment> segments, List<List<Segment>> perCall) {

  static ThinkRun of(ThinkTagProcessor p, List<String> pieces) {
    List<List<Segment>> perCall = new ArrayList<>();
    for (String piece : pieces) {
      perCall.add(p.feed(piece));
    }
    perCall.add(p.finish());
    List<Segment> all = new ArrayList<>();
    StringBuilder r = new StringBuilder();
    StringBuilder c = new StringBuilder();
    for (List<Segment> call : perCall) {
      for (Segment s : call) {
        all.add(s);
        (s.kind() == Kind.REASONING ? r : c).append(s.text());
      }
    }
    return new ThinkRun(r.toString(), c.toString(), Collections.unmodifiableList(all), perCall);
  }

  static ThinkRun of(ThinkTagProcessor p, String... pieces) {
    return of(p, List.of(pieces));
  }

  /** Default processor, whole text in one piece. */
  static ThinkRun oneShot(String text) {
    return of(ThinkTagProcessor.builder().build(), text);
  }

  /** Cuts {@code text} at the given char positions (ascending, strictly inside the text). */
  static List<String> cut(String text, int... positions) {
    List<String> pieces = new ArrayList<>();
    int from = 0;
    for (int p : positions) {
      pieces.add(text.substring(from, p));
      from = p;
    }
    pieces.add(text.substring(from));
    return pieces;
  }

  /** The text of one feed/finish call, by kind. */
  static String text(List<Segment> segments, Kind kind) {
    StringBuilder b = new StringBuilder();
    for (Segment s : segments) {
      if (s.kind() == kind) {
        b.append(s.text());
      }
    }
    return b.toString();
  }
}
