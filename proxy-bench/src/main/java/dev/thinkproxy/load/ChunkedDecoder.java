package dev.thinkproxy.load;

import java.io.IOException;

/**
 * Decodes an HTTP/1.1 chunked body incrementally (RFC 9112 §7.1): chunk extensions and trailers are skipped,
 * anything malformed is an {@link IOException}. Data bytes are handed to a {@link Sink} without copying.
 */
final class ChunkedDecoder {
  interface Sink {
    void data(byte[] b, int off, int len) throws IOException;
  }

  private enum State { SIZE, EXTENSION, SIZE_LF, DATA, DATA_CR, DATA_LF, TRAILER_START, TRAILER_LINE, LAST_LF, DONE }

  private static final int MAX_SIZE_DIGITS = 15;

  private State state = State.SIZE;
  private long remaining;
  private int digits;

  /** Whether the last chunk and trailers have been read. */
  boolean done() {
    return state == State.DONE;
  }

  /** Consumes bytes of the body and returns the count consumed; stops at the end of the body. */
  int feed(byte[] b, int off, int len, Sink sink) throws IOException {
    int i = off;
    int end = off + len;
    while (i < end && state != State.DONE) {
      byte c = b[i];
      switch (state) {
        case SIZE -> {
          int d = Character.digit(c, 16);
          if (d >= 0) {
            if (++digits > MAX_SIZE_DIGITS) {
              throw new IOException("chunk size too long");
            }
            remaining = remaining * 16 + d;
          } else if (digits == 0) {
            throw new IOException("chunk size expected, got byte " + (c & 0xff));
          } else if (c == ';' || c == ' ' || c == '\t') {
            state = State.EXTENSION;
          } else if (c == '\r') {
            state = State.SIZE_LF;
          } else {
            throw new IOException("bad byte in chunk size: " + (c & 0xff));
          }
          i++;
        }
        case EXTENSION -> {
          if (c == '\r') {
            state = State.SIZE_LF;
          } else if (c == '\n') {
            throw new IOException("bare LF after chunk extension");
          }
          i++;
        }
        case SIZE_LF -> {
          expect(c, '\n');
          i++;
          digits = 0;
          state = remaining == 0 ? State.TRAILER_START : State.DATA;
        }
        case DATA -> {
          int n = (int) Math.min(remaining, end - i);
          sink.data(b, i, n);
          i += n;
          remaining -= n;
          if (remaining == 0) {
            state = State.DATA_CR;
          }
        }
        case DATA_CR -> {
          expect(c, '\r');
          i++;
          state = State.DATA_LF;
        }
        case DATA_LF -> {
          expect(c, '\n');
          i++;
          state = State.SIZE;
        }
        case TRAILER_START -> {
          i++;
          state = c == '\r' ? State.LAST_LF : State.TRAILER_LINE;
        }
        case TRAILER_LINE -> {
          i++;
          if (c == '\n') {
            state = State.TRAILER_START;
          }
        }
        case LAST_LF -> {
          expect(c, '\n');
          i++;
          state = State.DONE;
        }
        default -> throw new IllegalStateException(state.name());
      }
    }
    return i - off;
  }

  private static void expect(byte actual, char wanted) throws IOException {
    if (actual != wanted) {
      throw new IOException("chunked framing: expected byte " + (int) wanted + ", got " + (actual & 0xff));
    }
  }
}
