package dev.thinkproxy.load;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The start line and header fields of one HTTP/1.1 message, read incrementally: bytes go in through
 * {@link Reader#feed} until the blank line, however the message is split across reads.
 */
final class HttpHead {
  private final String startLine;
  private final List<String[]> fields;

  private HttpHead(String startLine, List<String[]> fields) {
    this.startLine = startLine;
    this.fields = fields;
  }

  String startLine() {
    return startLine;
  }

  /** The value of the first field called {@code name} (case-insensitive), or null. */
  String header(String name) {
    for (String[] f : fields) {
      if (f[0].equalsIgnoreCase(name)) {
        return f[1];
      }
    }
    return null;
  }

  /** Whether the comma-separated field {@code name} lists {@code token} (case-insensitive). */
  boolean headerHasToken(String name, String token) {
    for (String[] f : fields) {
      if (f[0].equalsIgnoreCase(name)) {
        for (String t : f[1].split(",")) {
          if (t.strip().equalsIgnoreCase(token)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** The Content-Length, -1 when absent. */
  long contentLength() throws IOException {
    String v = header("Content-Length");
    if (v == null) {
      return -1;
    }
    try {
      long n = Long.parseLong(v.strip());
      if (n < 0) {
        throw new NumberFormatException(v);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IOException("bad Content-Length: " + v);
    }
  }

  boolean chunked() {
    String te = header("Transfer-Encoding");
    return te != null && te.toLowerCase(Locale.ROOT).contains("chunked");
  }

  /** Accumulates a head; {@link #feed} returns how many bytes it took, the rest belong to the body. */
  static final class Reader {
    private final int maxBytes;
    private byte[] buf = new byte[512];
    private int len;
    private HttpHead head;

    Reader(int maxBytes) {
      this.maxBytes = maxBytes;
    }

    /**
     * Consumes bytes up to the end of the head; returns the count consumed. After the blank line,
     * {@link #head()} is non-null and further calls consume nothing.
     */
    int feed(byte[] b, int off, int n) throws IOException {
      if (head != null) {
        return 0;
      }
      for (int i = 0; i < n; i++) {
        if (len == buf.length) {
          if (len >= maxBytes) {
            throw new IOException("HTTP head longer than " + maxBytes + " bytes");
          }
          buf = java.util.Arrays.copyOf(buf, Math.min(maxBytes, len * 2));
        }
        byte c = b[off + i];
        buf[len++] = c;
        if (c == '\n' && endsWithBlankLine()) {
          head = parse(new String(buf, 0, len, StandardCharsets.ISO_8859_1));
          return i + 1;
        }
      }
      return n;
    }

    private boolean endsWithBlankLine() {
      return (len >= 2 && buf[len - 2] == '\n') || (len >= 3 && buf[len - 2] == '\r' && buf[len - 3] == '\n');
    }

    HttpHead head() {
      return head;
    }

    /** Whether any byte of a head has arrived since the last reset. */
    boolean started() {
      return len > 0;
    }

    void reset() {
      len = 0;
      head = null;
      if (buf.length > 4096) {
        buf = new byte[512];
      }
    }

    private static HttpHead parse(String text) throws IOException {
      String[] lines = text.split("\r?\n");
      if (lines.length == 0 || lines[0].isEmpty()) {
        throw new IOException("empty start line");
      }
      List<String[]> fields = new ArrayList<>();
      for (int i = 1; i < lines.length; i++) {
        if (lines[i].isEmpty()) {
          break;
        }
        int colon = lines[i].indexOf(':');
        if (colon <= 0) {
          throw new IOException("bad header line: " + lines[i]);
        }
        fields.add(new String[] {lines[i].substring(0, colon).strip(), lines[i].substring(colon + 1).strip()});
      }
      return new HttpHead(lines[0], fields);
    }
  }
}
