package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.thinkproxy.servlet.SseEvents.Event;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The stream invariant: what a client must receive for an upstream event stream that ends, cleanly or by a
 * fault, after its first {@code cut} bytes.
 *
 * <ul>
 *   <li>Every complete event (ended by an empty line) before the cut reaches the client once, in order: in
 *       {@code off} mode byte for byte; in {@code split} mode events the proxy does not rewrite (comments, garbage,
 *       {@code [DONE]}) byte for byte, and the texts of the rewritten {@code chat.completion.chunk} events such
 *       that the client's reasoning and content, concatenated, are those of the upstream's text (the think rules:
 *       a leading {@code <think>} block is reasoning, trimmed; whitespace after {@code </think>} is dropped; an
 *       unclosed block stays reasoning).</li>
 *   <li>After a fault: the bytes of an event cut off half-way as comment lines ({@code ": "} + each line), then
 *       exactly one {@code data: {"error":{"message","type","code"}}} event.</li>
 *   <li>After a clean end: no error event; an unterminated last event is dispatched if its data is complete JSON,
 *       else forwarded as comment lines.</li>
 *   <li>Either way the response ends with the chunked terminator, at an event boundary, with no {@code [DONE]}
 *       the upstream did not send. Heartbeat comments ({@code : keep-alive}) between events are ignored.</li>
 * </ul>
 */
final class StreamCheck {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String OPEN = "<think>";
  private static final String CLOSE = "</think>";

  /** How the client asked the proxy to treat reasoning. */
  enum Mode {
    SPLIT(null),
    OFF("off");

    /** The value of the {@code X-Thinkproxy-Mode} header, or null for the default (split). */
    final String header;

    Mode(String header) {
      this.header = header;
    }
  }

  /** How the upstream stream ended at the cut. */
  enum End { FAULT, CLEAN }

  private StreamCheck() {}

  /** What the client must receive. */
  static final class Expected {
    final int cut;
    final End end;
    final List<Event> events = new ArrayList<>();
    /** Whether the last of {@link #events} is the unterminated last event, dispatched at a clean end. */
    boolean lastDispatched;
    final List<byte[]> fragmentLines = new ArrayList<>();

    Expected(int cut, End end) {
      this.cut = cut;
      this.end = end;
    }
  }

  static Expected expected(byte[] payload, int cut, End end) {
    Expected e = new Expected(cut, end);
    SseEvents tokenizer = new SseEvents(event -> {
      if (!event.lines().isEmpty()) {
        e.events.add(event);
      }
    });
    tokenizer.feed(payload, 0, cut);
    tokenizer.endOfInput();
    Event fragment = tokenizer.pending();
    if (fragment.lines().isEmpty()) {
      return e;
    }
    byte[] data = fragment.data();
    if (end == End.CLEAN && data != null && (isJson(data) || isDone(data))) {
      e.events.add(fragment);
      e.lastDispatched = true;
    } else {
      e.fragmentLines.addAll(fragment.lines());
    }
    return e;
  }

  /** Fails unless the client received exactly what the invariant asks for a stream cut after {@code cut} bytes. */
  static void verify(Mode mode, ChatStream stream, int cut, End end, SseClient.Result client) {
    String problem = mismatch(mode, expected(stream.payload, cut, end), new ClientView(client));
    if (problem != null) {
      throw new AssertionError(describe(mode, stream, cut, end, client, problem));
    }
  }

  /**
   * Like {@link #verify} for a fault, for a reset connection: what the upstream wrote before its RST may not all
   * have reached the proxy (the kernel drops what it had not delivered), so the proxy may have seen a shorter
   * stream. Passes if the client received exactly what the invariant asks for some cut in {@code minCut..maxCut}.
   */
  static void verifyAnyCut(Mode mode, ChatStream stream, int minCut, int maxCut, SseClient.Result client) {
    ClientView view = new ClientView(client);
    String problem = mismatch(mode, expected(stream.payload, maxCut, End.FAULT), view);
    if (problem == null) {
      return;
    }
    for (int cut : candidateCuts(stream.payload, minCut, maxCut, view)) {
      if (mismatch(mode, expected(stream.payload, cut, End.FAULT), view) == null) {
        return;
      }
    }
    throw new AssertionError(describe(mode, stream, maxCut, End.FAULT, client,
        "no cut in " + minCut + ".." + maxCut + " matches; for " + maxCut + ": " + problem));
  }

  private static String describe(Mode mode, ChatStream stream, int cut, End end, SseClient.Result client,
      String problem) {
    return problem + "\n  mode " + mode + ", " + stream + " ending " + end + " after " + cut + " bytes"
        + "\n  upstream sent: " + SseEvents.show(Arrays.copyOf(stream.payload, cut))
        + "\n  client received: " + SseEvents.show(client.body()) + (client.terminated() ? "" : " (unterminated)");
  }

  /** Cuts at which the upstream's stream leaves a fragment whose lines are those the client got as comments. */
  private static List<Integer> candidateCuts(byte[] payload, int minCut, int maxCut, ClientView view) {
    List<List<byte[]>> fragments = new ArrayList<>();
    fragments.add(List.of());
    List<Event> events = view.events;
    if (!events.isEmpty()) {
      Event last = events.get(events.size() - 1);
      List<byte[]> comments = leadingComments(last);
      if (!comments.isEmpty()) {
        fragments.add(uncomment(comments));
      } else if (events.size() > 1 && events.get(events.size() - 2).onlyComments()) {
        fragments.add(uncomment(events.get(events.size() - 2).lines()));
      }
    }
    List<Integer> boundaries = new ArrayList<>();
    boundaries.add(0);
    int offset = 0;
    for (Event e : SseEvents.complete(payload, maxCut)) {
      offset += e.raw().length;
      boundaries.add(offset);
    }
    List<Integer> cuts = new ArrayList<>();
    for (int i = boundaries.size() - 1; i >= 0; i--) {
      int b = boundaries.get(i);
      for (List<byte[]> fragment : fragments) {
        int end = matchLines(payload, b, fragment);
        if (end >= minCut && end <= maxCut && end >= 0) {
          cuts.add(end);
        }
      }
    }
    return cuts;
  }

  /** Where {@code lines}, separated by line ends, end when they start at {@code from}; -1 if they do not. */
  private static int matchLines(byte[] payload, int from, List<byte[]> lines) {
    int pos = from;
    for (int i = 0; i < lines.size(); i++) {
      byte[] line = lines.get(i);
      if (pos + line.length > payload.length
          || !Arrays.equals(payload, pos, pos + line.length, line, 0, line.length)) {
        return -1;
      }
      pos += line.length;
      if (i < lines.size() - 1) {
        if (pos < payload.length && payload[pos] == '\r') {
          pos++;
          if (pos < payload.length && payload[pos] == '\n') {
            pos++;
          }
        } else if (pos < payload.length && payload[pos] == '\n') {
          pos++;
        } else {
          return -1;
        }
      }
    }
    return pos;
  }

  private static List<byte[]> uncomment(List<byte[]> comments) {
    List<byte[]> out = new ArrayList<>();
    for (byte[] c : comments) {
      out.add(c.length >= 2 && c[1] == ' ' ? Arrays.copyOfRange(c, 2, c.length) : Arrays.copyOfRange(c, 1, c.length));
    }
    return out;
  }

  private static List<byte[]> leadingComments(Event e) {
    List<byte[]> out = new ArrayList<>();
    for (byte[] line : e.lines()) {
      if (line.length == 0 || line[0] != ':') {
        break;
      }
      out.add(line);
    }
    return out;
  }

  /** The first way the client's stream differs from the expectation, or null when it matches. */
  static String mismatch(Mode mode, Expected exp, ClientView client) {
    if (!client.terminated) {
      return "the response did not end with the chunked terminator";
    }
    List<Event> events = new ArrayList<>(client.events);
    if (client.pending.onlyComments()) {
      // Comment lines at the very end need no empty line after them: a client ignores them either way.
      events.add(client.pending);
    } else if (!client.pending.lines().isEmpty()) {
      return "the response ended inside an event: " + SseEvents.show(client.pending.raw());
    }
    List<byte[]> fragmentComments = new ArrayList<>();
    if (exp.end == End.FAULT) {
      if (events.isEmpty()) {
        return "no error event at the end";
      }
      Event last = events.remove(events.size() - 1);
      String bad = checkErrorEvent(last);
      if (bad != null) {
        return bad;
      }
      fragmentComments.addAll(leadingComments(last));
      if (fragmentComments.isEmpty() && !exp.fragmentLines.isEmpty()) {
        if (events.isEmpty() || !events.get(events.size() - 1).onlyComments()) {
          return "the cut-off event did not arrive as comment lines before the error event";
        }
        fragmentComments.addAll(events.remove(events.size() - 1).lines());
      }
    } else if (!exp.fragmentLines.isEmpty()) {
      if (events.isEmpty() || !events.get(events.size() - 1).onlyComments()) {
        return "the unterminated last event did not arrive as comment lines at the end";
      }
      fragmentComments.addAll(events.remove(events.size() - 1).lines());
    }
    List<byte[]> expectedComments = new ArrayList<>();
    boolean leading = true;
    for (byte[] line : exp.fragmentLines) {
      // Comment lines that start an event are passed on as they come, before the rest of the event arrives.
      leading &= line.length > 0 && line[0] == ':';
      if (leading) {
        expectedComments.add(line);
        continue;
      }
      byte[] c = new byte[line.length + 2];
      c[0] = ':';
      c[1] = ' ';
      System.arraycopy(line, 0, c, 2, line.length);
      expectedComments.add(c);
    }
    if (!sameLines(fragmentComments, expectedComments)) {
      return "the cut-off event as comment lines: expected " + showLines(expectedComments)
          + " at the end but got " + showLines(fragmentComments);
    }
    for (Event e : events) {
      if (client.kind(e) == Kind.ERROR) {
        return (exp.end == End.FAULT ? "more than one error event: " : "an error event after a clean end: ") + e;
      }
    }
    return mode == Mode.OFF ? offMismatch(exp, events) : splitMismatch(exp, events, client);
  }

  private static String offMismatch(Expected exp, List<Event> got) {
    List<Event> want = exp.events;
    for (int i = 0; i < Math.min(want.size(), got.size()); i++) {
      boolean dispatched = exp.lastDispatched && i == want.size() - 1;
      boolean same = dispatched ? sameLines(want.get(i).lines(), got.get(i).lines())
          : Arrays.equals(want.get(i).raw(), got.get(i).raw());
      if (!same) {
        return "event " + i + " differs: expected " + want.get(i) + " but got " + got.get(i);
      }
    }
    if (want.size() != got.size()) {
      return "expected " + want.size() + " events but got " + got.size()
          + (got.size() > want.size() ? "; first extra: " + got.get(want.size()) : "; first missing: "
          + want.get(got.size()));
    }
    return null;
  }

  private static String splitMismatch(Expected exp, List<Event> got, ClientView client) {
    StringBuilder upstreamText = new StringBuilder();
    List<Event> wantOther = new ArrayList<>();
    for (Event e : exp.events) {
      JsonNode chunk = chunkOf(e);
      if (chunk != null) {
        JsonNode content = chunk.path("choices").path(0).path("delta").path("content");
        if (content.isTextual()) {
          upstreamText.append(content.asText());
        }
      } else {
        wantOther.add(e);
      }
    }
    StringBuilder reasoning = new StringBuilder();
    StringBuilder content = new StringBuilder();
    List<Event> gotOther = new ArrayList<>();
    boolean doneSeen = false;
    for (Event e : got) {
      Kind kind = client.kind(e);
      if (kind == Kind.CHUNK) {
        if (doneSeen) {
          return "a chunk after [DONE]: " + e;
        }
        JsonNode delta = client.chunk(e).path("choices").path(0).path("delta");
        if (delta.path("reasoning_content").isTextual()) {
          reasoning.append(delta.path("reasoning_content").asText());
        }
        if (delta.path("content").isTextual()) {
          content.append(delta.path("content").asText());
        }
      } else {
        doneSeen |= kind == Kind.DONE;
        gotOther.add(e);
      }
    }
    for (int i = 0; i < Math.min(wantOther.size(), gotOther.size()); i++) {
      boolean dispatched = exp.lastDispatched && wantOther.get(i) == exp.events.get(exp.events.size() - 1);
      boolean same = dispatched ? sameLines(wantOther.get(i).lines(), gotOther.get(i).lines())
          : Arrays.equals(wantOther.get(i).raw(), gotOther.get(i).raw());
      if (!same) {
        return "pass-through event " + i + " differs: expected " + wantOther.get(i) + " but got " + gotOther.get(i);
      }
    }
    if (wantOther.size() != gotOther.size()) {
      return "expected " + wantOther.size() + " pass-through events but got " + gotOther.size() + ": " + gotOther;
    }
    String[] want = split(upstreamText.toString());
    if (!want[0].equals(reasoning.toString())) {
      return "reasoning: expected \"" + want[0] + "\" but got \"" + reasoning + "\"";
    }
    if (!want[1].equals(content.toString())) {
      return "content: expected \"" + want[1] + "\" but got \"" + content + "\"";
    }
    return null;
  }

  /** The reasoning and content of a (possibly cut) text by the think rules, for texts built by ChatStream. */
  static String[] split(String text) {
    if (!text.startsWith(OPEN)) {
      // Not (yet) a think block: a prefix of the tag, or plain content.
      return new String[] {"", text};
    }
    String rest = text.substring(OPEN.length());
    int close = rest.indexOf(CLOSE);
    if (close < 0) {
      return new String[] {rest.strip(), ""};
    }
    return new String[] {rest.substring(0, close).strip(), rest.substring(close + CLOSE.length()).stripLeading()};
  }

  private static String checkErrorEvent(Event e) {
    List<byte[]> lines = e.lines();
    byte[] last = lines.isEmpty() ? new byte[0] : lines.get(lines.size() - 1);
    if (!SseEvents.isField(last, "data") || e.data() == null) {
      return "the stream does not end with an error event but with: " + e;
    }
    for (int i = 0; i < lines.size() - 1; i++) {
      if (lines.get(i).length == 0 || lines.get(i)[0] != ':') {
        return "the error event has other lines than comments before its data: " + e;
      }
    }
    try {
      JsonNode root = JSON.readTree(e.data());
      JsonNode error = root.path("error");
      if (root.size() != 1 || !error.path("message").isTextual() || error.path("message").asText().isBlank()
          || !error.path("type").isTextual() || !error.path("code").isTextual()) {
        return "not an error event {\"error\":{\"message\",\"type\",\"code\"}}: " + e;
      }
    } catch (IOException ex) {
      return "the last event is not JSON: " + e;
    }
    return null;
  }

  private static boolean sameLines(List<byte[]> a, List<byte[]> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (!Arrays.equals(a.get(i), b.get(i))) {
        return false;
      }
    }
    return true;
  }

  private static String showLines(List<byte[]> lines) {
    List<String> out = new ArrayList<>();
    for (byte[] l : lines) {
      out.add(SseEvents.show(l));
    }
    return out.toString();
  }

  static boolean isJson(byte[] data) {
    try {
      // Empty data reads as a missing node; it is not a whole event either.
      JsonNode node = JSON.readTree(data);
      return node != null && !node.isMissingNode();
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean isDone(byte[] data) {
    return new String(data, UTF_8).strip().equals("[DONE]");
  }

  /** The event's data as a chunk object (a JSON object with {@code choices}), or null. */
  static JsonNode chunkOf(Event e) {
    byte[] data = e.data();
    if (data == null || data.length == 0 || data[0] != '{') {
      return null;
    }
    try {
      JsonNode node = JSON.readTree(data);
      return node != null && node.isObject() && node.path("choices").isArray() ? node : null;
    } catch (IOException ex) {
      return null;
    }
  }

  enum Kind { CHUNK, DONE, ERROR, OTHER }

  /** The client's stream cut into events, keep-alives left out, each classified once. */
  static final class ClientView {
    final boolean terminated;
    final List<Event> events = new ArrayList<>();
    final Event pending;
    private final java.util.IdentityHashMap<Event, JsonNode> chunks = new java.util.IdentityHashMap<>();
    private final java.util.IdentityHashMap<Event, Kind> kinds = new java.util.IdentityHashMap<>();

    ClientView(SseClient.Result result) {
      this.terminated = result.terminated();
      SseEvents tokenizer = new SseEvents(e -> {
        if (!e.isKeepAlive() && !e.lines().isEmpty()) {
          events.add(e);
        }
      });
      byte[] body = result.body();
      tokenizer.feed(body, 0, body.length);
      tokenizer.endOfInput();
      pending = tokenizer.pending();
      for (Event e : events) {
        JsonNode chunk = chunkOf(e);
        byte[] data = e.data();
        Kind kind;
        if (chunk != null) {
          chunks.put(e, chunk);
          kind = Kind.CHUNK;
        } else if (data != null && isDone(data)) {
          kind = Kind.DONE;
        } else if (data != null && isErrorJson(data)) {
          kind = Kind.ERROR;
        } else {
          kind = Kind.OTHER;
        }
        kinds.put(e, kind);
      }
    }

    Kind kind(Event e) {
      return kinds.get(e);
    }

    JsonNode chunk(Event e) {
      return chunks.get(e);
    }

    private static boolean isErrorJson(byte[] data) {
      if (data.length == 0 || data[0] != '{') {
        return false;
      }
      try {
        return JSON.readTree(data).has("error");
      } catch (IOException e) {
        return false;
      }
    }
  }
}
