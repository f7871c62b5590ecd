package dev.thinkproxy.load;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * The bytes of one mock stream, built event by event so a long stream never exists in memory at once. Every
 * event is one {@code data:} line in its own HTTP chunk, as a provider flushes them.
 */
final class MockEvents {
  private static final String FILLER = "the model weighs each step before it answers, and the proxy moves that "
      + "weighing out of the answer into its own field while the stream goes on. ";
  static final byte[] TERMINATOR = "0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private final StreamSpec spec;
  private final String prefix;
  private final int reasoningChunks;

  MockEvents(StreamSpec spec, long streamId) {
    this.spec = spec;
    this.prefix = "{\"id\":\"chatcmpl-mock-" + streamId + "\",\"object\":\"chat.completion.chunk\",\"created\":"
        + (System.currentTimeMillis() / 1000) + ",\"model\":\"mock-model\",\"choices\":[{\"index\":0,";
    this.reasoningChunks = spec.reasoningChunks();
  }

  /** Event {@code index} (0 = role, 1..chunks = content, then finish, then [DONE]) framed as one HTTP chunk. */
  byte[] frame(int index) {
    return chunk(("data: " + payload(index) + "\n\n").getBytes(StandardCharsets.UTF_8));
  }

  /** A data line of bytes that are not UTF-8 (0xFF never occurs in UTF-8), framed as one HTTP chunk. */
  static byte[] garbageFrame(SplittableRandom random) {
    byte[] line = new byte[6 + 32 + 2];
    System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, line, 0, 6);
    line[6] = (byte) 0xFF;
    for (int i = 7; i < 38; i++) {
      line[i] = (byte) (0x80 + random.nextInt(0x7F));
    }
    line[38] = '\n';
    line[39] = '\n';
    return chunk(line);
  }

  static byte[] chunk(byte[] payload) {
    byte[] size = (Integer.toHexString(payload.length) + "\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[size.length + payload.length + 2];
    System.arraycopy(size, 0, out, 0, size.length);
    System.arraycopy(payload, 0, out, size.length, payload.length);
    out[out.length - 2] = '\r';
    out[out.length - 1] = '\n';
    return out;
  }

  private String payload(int index) {
    int chunks = spec.chunks();
    if (index == 0) {
      return prefix + "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}";
    }
    if (index <= chunks) {
      String before = prefix + "\"delta\":{\"content\":\"";
      String after = "\"},\"finish_reason\":null}]}";
      String text = text(index, before.length() + after.length());
      return before + text + after;
    }
    if (index == chunks + 1) {
      return prefix + "\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
          + "\"completion_tokens\":" + chunks + ",\"total_tokens\":" + (chunks + 12) + "}}";
    }
    return "[DONE]";
  }

  /** The content of event {@code index}; {@code envelope} is the JSON around it, for the bigline fault. */
  private String text(int index, int envelope) {
    String open = index == 1 && reasoningChunks > 0 ? "<think>" : "";
    String close = index == reasoningChunks ? "</think>" : "";
    int size = spec.size();
    StreamSpec.Fault fault = spec.fault();
    if (fault != null && fault.kind() == StreamSpec.Fault.Kind.BIGLINE && fault.at() == index) {
      size = Math.max(0, fault.bytes() - "data: ".length() - envelope - open.length() - close.length());
    }
    return open + filler((long) (index - 1) * spec.size(), size) + close;
  }

  private static String filler(long offset, int length) {
    StringBuilder sb = new StringBuilder(length);
    int pos = (int) (offset % FILLER.length());
    while (sb.length() < length) {
      int n = Math.min(length - sb.length(), FILLER.length() - pos);
      sb.append(FILLER, pos, pos + n);
      pos = 0;
    }
    return sb.toString();
  }
}
