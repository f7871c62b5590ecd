package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;

import dev.thinkproxy.servlet.FaultUpstream.Script;
import dev.thinkproxy.servlet.SseEvents.Event;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;

/**
 * One stream of the random run, drawn from a seeded {@link Random}: its text, how it is cut into events and
 * chunks, how fast the upstream writes it, and how it ends (cleanly, possibly without {@code [DONE]} or half-way
 * through an event; FIN or RST at a random byte, often inside a chunk-size line or a UTF-8 sequence; a stall
 * that the idle timeout ends; or a client that leaves).
 */
final class RandomStream {
  enum Ending { CLEAN, FIN, RESET, STALL, CLIENT_LEAVES }

  private static final String[] GARBAGE = {
      "data: \u00ff\u00fe\u0080{\n\n", "data: not json\n\n", "no field name here\n\n", "data: {\"x\":\n\n",
      "event: ping\ndata: {}\n\n", "data: [1,2,3]\n\n", "id: 7\n\n", "data:\n\n"};

  final ChatStream stream;
  final Ending ending;
  /** How many payload bytes reach the proxy before the ending. */
  final int cut;
  /** For a client that leaves: how many body bytes it reads first. */
  final long leaveAfterBytes;
  /** For a client that leaves before the response headers: the upstream answers once this opens. */
  final CountDownLatch answer = new CountDownLatch(1);
  private final boolean leaveBeforeHeaders;
  private final byte[] wire;
  private final int pacing;
  private final String description;

  private RandomStream(ChatStream stream, Ending ending, int cut, byte[] wire, int pacing, long leaveAfterBytes,
      boolean leaveBeforeHeaders, String description) {
    this.stream = stream;
    this.ending = ending;
    this.cut = cut;
    this.wire = wire;
    this.pacing = pacing;
    this.leaveAfterBytes = leaveAfterBytes;
    this.leaveBeforeHeaders = leaveBeforeHeaders;
    this.description = description;
  }

  static RandomStream draw(Random random) {
    int shape = random.nextInt(100);
    boolean manyChunks = shape < 2;
    boolean huge = shape >= 2 && shape < 6;
    ChatStream.Builder b = ChatStream.builder();
    if (random.nextInt(5) == 0) {
      b.crlf();
    }
    b.role();
    String text;
    if (manyChunks) {
      text = ChatStream.thinkText(random, 3_000, 7_000);
    } else if (random.nextInt(8) == 0) {
      text = ChatStream.word(random, 1 + random.nextInt(100));
    } else {
      text = ChatStream.thinkText(random, random.nextInt(120), random.nextInt(120));
    }
    int maxPiece = manyChunks ? 1 : 1 + random.nextInt(12);
    for (String piece : ChatStream.pieces(random, text, maxPiece)) {
      b.content(piece, random);
      int extra = manyChunks ? -1 : random.nextInt(60);
      if (extra == 0) {
        b.comment("PROCESSING");
      } else if (extra == 1) {
        b.event(GARBAGE[random.nextInt(GARBAGE.length)].getBytes(ISO_8859_1));
      }
    }
    if (huge && random.nextBoolean()) {
      b.content(ChatStream.word(random, 200_000 + random.nextInt(600_000)), random);
    } else if (huge) {
      b.event(("data: {\"blob\":\"" + "y".repeat((1 << 20) + random.nextInt(2 << 20)) + "\"}\n\n").getBytes(UTF_8));
    }
    ChatStream stream = b.stop().done().build();
    byte[] payload = stream.payload;
    int n = payload.length;
    List<Event> events = SseEvents.complete(payload, n);
    int maxChunk = huge ? 8 << 20 : new int[] {7, 64, 1024, 16_384}[random.nextInt(4)];
    ChunkedWire chunks;
    if (manyChunks) {
      List<byte[]> pieces = new ArrayList<>();
      events.forEach(e -> pieces.add(e.raw()));
      chunks = ChunkedWire.ofPieces(pieces);
    } else {
      chunks = ChunkedWire.of(payload, n, random, maxChunk);
    }
    int pacing = manyChunks || huge ? 0 : random.nextInt(100);
    String shapeName = manyChunks ? "10,000 chunks" : huge ? "huge event" : "events";

    int e = random.nextInt(100);
    if (e < 20) {
      return new RandomStream(stream, Ending.CLEAN, n, chunks.terminated(), pacing, 0, false,
          shapeName + ", clean end");
    }
    if (e < 30) {
      int cut = cleanCut(payload, random.nextInt(doneStart(events, n) + 1));
      byte[] wire = ChunkedWire.of(payload, cut, random, maxChunk).terminated();
      return new RandomStream(stream, Ending.CLEAN, cut, wire, pacing, 0, false,
          shapeName + ", clean end without [DONE] after " + cut + " of " + n + " bytes");
    }
    if (e < 80) {
      int where = random.nextInt(3);
      int wireCut;
      int cut;
      do {
        // Not after all of [DONE]: whether a fault after it still needs an error event is left open.
        wireCut = where == 0 ? chunks.cutInSizeLine(random)
            : where == 1 ? chunks.cutInData(random) : random.nextInt(chunks.size() + 1);
        cut = chunks.payloadBefore(wireCut);
      } while (cut == n);
      Ending ending = e < 58 ? Ending.FIN : e < 70 ? Ending.RESET : Ending.STALL;
      if (ending == Ending.RESET && events.size() > 300) {
        ending = Ending.FIN; // the any-cut check of a reset is quadratic in the number of events
      }
      return new RandomStream(stream, ending, cut, Arrays.copyOf(chunks.bytes(), wireCut), pacing, 0, false,
          shapeName + ", " + ending + " at wire byte " + wireCut + " (" + new String[] {"in a chunk-size line",
              "in chunk data", "anywhere"}[where] + "), after " + cut + " of " + n + " bytes");
    }
    int leave = random.nextInt(3);
    long after = leave == 2 ? 1 + random.nextInt(Math.max(1, n / 2)) : leave;
    return new RandomStream(stream, Ending.CLIENT_LEAVES, n, chunks.bytes(), pacing, after, leave == 0,
        shapeName + ", client leaves " + (leave == 0 ? "before the response headers" : "after " + after
            + " body bytes"));
  }

  /** The upstream's script for this stream; {@code random} varies the pacing. */
  Script script(Random random) {
    Script s = leaveBeforeHeaders
        ? Script.noResponse().await(answer).write(Script.EVENT_STREAM_HEAD.getBytes(ISO_8859_1))
        : Script.eventStream();
    if (pacing < 60) {
      s.write(wire);
    } else if (pacing < 80) {
      // A slow drip of 1-3 bytes every few milliseconds at the start, the rest at once.
      int slow = Math.min(wire.length, 400);
      s.drip(Arrays.copyOf(wire, slow), 1, 3, Duration.ofMillis(1 + random.nextInt(3)), random);
      s.write(Arrays.copyOfRange(wire, slow, wire.length));
    } else {
      int slow = Math.min(wire.length, 30_000);
      s.drip(Arrays.copyOf(wire, slow), 1, 2048, Duration.ofMillis(1), random);
      s.write(Arrays.copyOfRange(wire, slow, wire.length));
    }
    switch (ending) {
      case CLEAN -> s.then(FaultUpstream.Ending.CLEAN);
      case FIN -> s.then(FaultUpstream.Ending.FIN);
      case RESET -> s.then(FaultUpstream.Ending.RESET);
      case STALL -> s.then(FaultUpstream.Ending.STALL);
      case CLIENT_LEAVES -> s.repeatUntilPeerCloses(
          FaultUpstream.Chunked.chunk(": tick\n\n".getBytes(UTF_8)), Duration.ofMillis(20 + random.nextInt(30)));
    }
    return s;
  }

  /** Where the {@code [DONE]} event starts, or the end. */
  private static int doneStart(List<Event> events, int length) {
    int offset = 0;
    for (Event e : events) {
      byte[] data = e.data();
      if (data != null && new String(data, UTF_8).equals("[DONE]")) {
        return offset;
      }
      offset += e.raw().length;
    }
    return length;
  }

  /**
   * {@code cut}, or the start of the event it falls in when that event has lines but no data yet: the contract
   * leaves open whether such a tail (a cut-off comment) is dispatched or forwarded as comment lines.
   */
  private static int cleanCut(byte[] payload, int cut) {
    SseEvents tokenizer = new SseEvents(e -> {});
    tokenizer.feed(payload, 0, cut);
    tokenizer.endOfInput();
    Event pending = tokenizer.pending();
    if (!pending.lines().isEmpty() && pending.data() == null) {
      return cut - pending.raw().length;
    }
    return cut;
  }

  @Override
  public String toString() {
    return description + ", " + stream + (pacing >= 60 ? ", dripped" : "");
  }
}
