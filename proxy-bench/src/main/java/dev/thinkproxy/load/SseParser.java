package dev.thinkproxy.load;

import java.io.IOException;
import java.util.Arrays;

/**
 * Splits a Server-Sent Events byte stream into events incrementally (the WHATWG event-stream rules that matter
 * here): lines end in CRLF, LF or CR; {@code data} lines of one event are joined with LF; a blank line
 * dispatches; comments and other fields are ignored. Lines longer than the limit fail the stream rather than
 * grow without bound.
 */
final class SseParser implements ChunkedDecoder.Sink {
  interface Listener {
    /** One event's data; the array is reused after the call returns. */
    void event(byte[] data, int len) throws IOException;
  }

  private static final byte[] DATA = {'d', 'a', 't', 'a'};
  private static final byte[] NEWLINE = {'\n'};

  private final int maxLineBytes;
  private final Listener listener;
  private byte[] line = new byte[256];
  private int lineLen;
  private byte[] data = new byte[256];
  private int dataLen;
  private boolean hasData;
  private boolean afterCr;

  SseParser(int maxLineBytes, Listener listener) {
    this.maxLineBytes = maxLineBytes;
    this.listener = listener;
  }

  @Override
  public void data(byte[] b, int off, int len) throws IOException {
    for (int i = off; i < off + len; i++) {
      byte c = b[i];
      if (afterCr) {
        afterCr = false;
        if (c == '\n') {
          continue;
        }
      }
      if (c == '\r' || c == '\n') {
        afterCr = c == '\r';
        endLine();
      } else {
        if (lineLen == line.length) {
          if (lineLen >= maxLineBytes) {
            throw new IOException("event-stream line longer than " + maxLineBytes + " bytes");
          }
          line = Arrays.copyOf(line, (int) Math.min(maxLineBytes, 2L * lineLen));
        }
        line[lineLen++] = c;
      }
    }
  }

  private void endLine() throws IOException {
    if (lineLen == 0) {
      if (hasData) {
        listener.event(data, dataLen);
      }
      hasData = false;
      dataLen = 0;
      if (data.length > 65536) {
        data = new byte[256];
      }
    } else if (isDataField()) {
      int start = DATA.length;
      if (start < lineLen && line[start] == ':') {
        start++;
        if (start < lineLen && line[start] == ' ') {
          start++;
        }
      }
      if (hasData) {
        append(NEWLINE, 0, 1);
      }
      hasData = true;
      append(line, start, lineLen - start);
    }
    lineLen = 0;
    if (line.length > 65536) {
      line = new byte[256];
    }
  }

  private boolean isDataField() {
    if (lineLen < DATA.length || (lineLen > DATA.length && line[DATA.length] != ':')) {
      return false;
    }
    for (int i = 0; i < DATA.length; i++) {
      if (line[i] != DATA[i]) {
        return false;
      }
    }
    return true;
  }

  private void append(byte[] b, int off, int len) throws IOException {
    long needed = (long) dataLen + len;
    if (needed > maxLineBytes) {
      throw new IOException("event data longer than " + maxLineBytes + " bytes");
    }
    if (needed > data.length) {
      data = Arrays.copyOf(data, (int) Math.min(maxLineBytes, Math.max(needed, 2L * data.length)));
    }
    System.arraycopy(b, off, data, dataLen, len);
    dataLen += len;
  }
}
