package dev.thinkproxy.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A deliberately dumb HTTP/1.1 client over a raw socket: the request target goes on the wire exactly as written
 * (HTTP client libraries normalise paths), {@code Connection: close}, and the whole answer is read until EOF.
 */
final class RawHttp {
  static final ObjectMapper JSON = new ObjectMapper();
  /** Guards against a hang only; every exchange here finishes in milliseconds when things work. */
  private static final int HANG_GUARD_MILLIS = 30_000;

  private RawHttp() {}

  /** A parsed response. */
  record Response(int status, String statusLine, Map<String, List<String>> headers, byte[] body) {
    String header(String name) {
      List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
      return values == null ? null : values.get(0);
    }

    String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }

    JsonNode json() throws IOException {
      return JSON.readTree(body);
    }

    @Override
    public String toString() {
      return statusLine + " " + headers + "\n" + bodyText();
    }
  }

  static Response get(int port, String target) throws IOException {
    return exchange(port, "GET " + target + " HTTP/1.1\r\n"
        + "Host: 127.0.0.1:" + port + "\r\n"
        + "Connection: close\r\n\r\n", new byte[0]);
  }

  /** POSTs a JSON body with Content-Length and a bearer token. */
  static Response postJson(int port, String target, String json, String... extraHeaders) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    StringBuilder head = new StringBuilder()
        .append("POST ").append(target).append(" HTTP/1.1\r\n")
        .append("Host: 127.0.0.1:").append(port).append("\r\n")
        .append("Authorization: Bearer sk-raw\r\n")
        .append("Content-Type: application/json\r\n")
        .append("Content-Length: ").append(body.length).append("\r\n");
    for (String h : extraHeaders) {
      head.append(h).append("\r\n");
    }
    head.append("Connection: close\r\n\r\n");
    return exchange(port, head.toString(), body);
  }

  /** POSTs a JSON body with {@code Transfer-Encoding: chunked}, cut into chunks of {@code chunkSize} bytes. */
  static Response postChunked(int port, String target, String json, int chunkSize) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream chunked = new ByteArrayOutputStream();
    for (int i = 0; i < body.length; i += chunkSize) {
      int n = Math.min(chunkSize, body.length - i);
      chunked.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      chunked.write(body, i, n);
      chunked.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    chunked.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    String head = "POST " + target + " HTTP/1.1\r\n"
        + "Host: 127.0.0.1:" + port + "\r\n"
        + "Authorization: Bearer sk-raw\r\n"
        + "Content-Type: application/json\r\n"
        + "Transfer-Encoding: chunked\r\n"
        + "Connection: close\r\n\r\n";
    return exchange(port, head, chunked.toByteArray());
  }

  /** Sends {@code head} (request line and headers, ending in an empty line) and {@code body} as given. */
  static Response exchange(int port, String head, byte[] body) throws IOException {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.setSoTimeout(HANG_GUARD_MILLIS);
      OutputStream out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
      return parse(socket.getInputStream().readAllBytes());
    }
  }

  static Response parse(byte[] raw) throws IOException {
    int headEnd = indexOf(raw, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 0);
    if (headEnd < 0) {
      throw new IOException("no complete response head in " + raw.length + " bytes: "
          + new String(raw, StandardCharsets.ISO_8859_1));
    }
    String[] lines = new String(raw, 0, headEnd, StandardCharsets.ISO_8859_1).split("\r\n");
    String statusLine = lines[0];
    int status = Integer.parseInt(statusLine.split(" ")[1]);
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      headers.computeIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
          .add(lines[i].substring(colon + 1).trim());
    }
    byte[] rest = java.util.Arrays.copyOfRange(raw, headEnd + 4, raw.length);
    List<String> te = headers.get("transfer-encoding");
    byte[] body = te != null && te.get(0).equalsIgnoreCase("chunked") ? dechunk(rest) : rest;
    return new Response(status, statusLine, headers, body);
  }

  private static byte[] dechunk(byte[] in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int pos = 0;
    while (true) {
      int lineEnd = indexOf(in, new byte[] {'\r', '\n'}, pos);
      if (lineEnd < 0) {
        throw new IOException("chunked body ends without the last chunk");
      }
      String sizeLine = new String(in, pos, lineEnd - pos, StandardCharsets.US_ASCII);
      int semi = sizeLine.indexOf(';');
      int size = Integer.parseInt((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
      pos = lineEnd + 2;
      if (size == 0) {
        return out.toByteArray();
      }
      out.write(in, pos, size);
      pos += size + 2;
    }
  }

  static int indexOf(byte[] haystack, byte[] needle, int from) {
    outer:
    for (int i = from; i <= haystack.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** Reads one line ending in LF (the LF and any CR before it removed), or null at EOF. */
  static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != -1) {
      if (b == '\n') {
        byte[] bytes = line.toByteArray();
        int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
      }
      line.write(b);
    }
    return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
  }
}
