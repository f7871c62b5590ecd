package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The chunked encoding of a body, in chunks of random sizes, with a map from any byte offset on the wire to how
 * many body bytes precede it: a proxy reading a body that breaks off at that offset has seen exactly those.
 */
final class ChunkedWire {
  private final ByteArrayOutputStream wire = new ByteArrayOutputStream();
  /** Per chunk: where its size line starts on the wire, the size line's length, and the data length. */
  private final List<int[]> chunks = new ArrayList<>();

  private ChunkedWire() {}

  /** {@code payload[0..length)} in chunks of 1..{@code maxChunk} bytes; no terminating chunk. */
  static ChunkedWire of(byte[] payload, int length, Random random, int maxChunk) {
    return of(payload, 0, length, random, maxChunk);
  }

  /** {@code payload[from..to)} in chunks of 1..{@code maxChunk} bytes; no terminating chunk. */
  static ChunkedWire of(byte[] payload, int from, int to, Random random, int maxChunk) {
    ChunkedWire w = new ChunkedWire();
    for (int i = from; i < to; ) {
      int n = Math.min(to - i, 1 + random.nextInt(maxChunk));
      w.add(payload, i, n);
      i += n;
    }
    return w;
  }

  /** One chunk per piece. */
  static ChunkedWire ofPieces(List<byte[]> pieces) {
    ChunkedWire w = new ChunkedWire();
    for (byte[] p : pieces) {
      w.add(p, 0, p.length);
    }
    return w;
  }

  private void add(byte[] data, int offset, int length) {
    byte[] chunk = FaultUpstream.Chunked.chunk(data, offset, length);
    int headerLength = chunk.length - length - 2;
    chunks.add(new int[] {wire.size(), headerLength, length});
    wire.write(chunk, 0, chunk.length);
  }

  /** The chunks, without the terminating chunk. */
  byte[] bytes() {
    return wire.toByteArray();
  }

  /** The chunks and the terminating chunk. */
  byte[] terminated() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(wire.size() + 5);
    out.write(wire.toByteArray(), 0, wire.size());
    out.write("0\r\n\r\n".getBytes(US_ASCII), 0, 5);
    return out.toByteArray();
  }

  int size() {
    return wire.size();
  }

  /** How many body bytes the first {@code wireOffset} bytes of the wire carry. */
  int payloadBefore(int wireOffset) {
    int payload = 0;
    for (int[] c : chunks) {
      int dataStart = c[0] + c[1];
      if (wireOffset <= dataStart) {
        return payload;
      }
      if (wireOffset <= dataStart + c[2]) {
        return payload + wireOffset - dataStart;
      }
      payload += c[2];
    }
    return payload;
  }

  /** A wire offset inside the size line of a random chunk (after at least one of its bytes). */
  int cutInSizeLine(Random random) {
    if (chunks.isEmpty()) {
      return 0;
    }
    int[] c = chunks.get(random.nextInt(chunks.size()));
    return c[0] + 1 + random.nextInt(c[1] - 1);
  }

  /** A wire offset inside the data of a random chunk. */
  int cutInData(Random random) {
    if (chunks.isEmpty()) {
      return 0;
    }
    int[] c = chunks.get(random.nextInt(chunks.size()));
    return c[0] + c[1] + random.nextInt(c[2]);
  }
}
