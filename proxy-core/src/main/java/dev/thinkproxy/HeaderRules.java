package dev.thinkproxy;

import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import okhttp3.Headers;

/**
 * Which headers cross the proxy. Towards the upstream: credentials ({@code Authorization}, {@code x-api-key},
 * {@code api-key}) and ordinary headers pass; hop-by-hop headers and those named in {@code Connection}, the
 * client's {@code Host}, framing ({@code Content-Length}), {@code Accept-Encoding} (so the upstream's gzip is
 * undone before rewriting), cookies, forwarding and browser-context headers and the proxy's own
 * {@code X-Thinkproxy-*} controls do not. Back to the client: hop-by-hop headers, cookies and headers that would
 * pin the proxy's own origin (HSTS, Alt-Svc) are dropped, and so are the upstream's {@code Access-Control-*}
 * headers: the proxy, not the provider, decides what browsers may read. Values with control or non-ASCII
 * characters are dropped in both directions.
 */
final class HeaderRules {
  /** Prefix of the per-request control headers, consumed by the proxy and never forwarded. */
  static final String CONTROL_PREFIX = "x-thinkproxy-";

  private static final Set<String> HOP_BY_HOP = Set.of(
      "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade", "trailer",
      "proxy-authorization", "proxy-authenticate");

  private static final Set<String> NOT_TO_UPSTREAM = Set.of(
      "host", "content-length", "expect", "accept-encoding", "cookie", "forwarded", "x-real-ip", "via",
      "origin", "referer", "http2-settings");

  private static final Set<String> NOT_TO_CLIENT = Set.of(
      "set-cookie", "set-cookie2", "strict-transport-security", "alt-svc", "public-key-pins",
      "public-key-pins-report-only");

  private HeaderRules() {}

  /** The client's headers that go upstream, in order. */
  static Headers toUpstream(List<Map.Entry<String, String>> clientHeaders) {
    return toUpstream(clientHeaders, null);
  }

  /**
   * @param proxyKeyHeader the lower-case name of the header carrying the proxy's own access key, also dropped; or
   *     null
   */
  static Headers toUpstream(List<Map.Entry<String, String>> clientHeaders, String proxyKeyHeader) {
    List<String> connection = new ArrayList<>();
    for (Map.Entry<String, String> h : clientHeaders) {
      if (h.getKey().equalsIgnoreCase("connection")) {
        connection.add(h.getValue());
      }
    }
    Set<String> listed = connectionListed(connection);
    Headers.Builder out = new Headers.Builder();
    for (Map.Entry<String, String> h : clientHeaders) {
      String name = h.getKey().toLowerCase(Locale.ROOT);
      if (HOP_BY_HOP.contains(name) || NOT_TO_UPSTREAM.contains(name) || listed.contains(name)
          || name.startsWith("x-forwarded-") || name.startsWith("sec-fetch-") || name.startsWith("sec-websocket-")
          || name.startsWith(CONTROL_PREFIX) || name.equals(proxyKeyHeader)
          || !isToken(h.getKey()) || !isSafeValue(h.getValue())) {
        continue;
      }
      out.addUnsafeNonAscii(h.getKey(), h.getValue());
    }
    return out.build();
  }

  /**
   * The upstream's headers that go to the client, in order.
   *
   * @param bodyRewritten drop {@code Content-Length} and {@code Content-Encoding}, which no longer describe the body
   */
  static List<Map.Entry<String, String>> toClient(Headers upstream, boolean bodyRewritten) {
    Set<String> listed = connectionListed(upstream.values("Connection"));
    List<Map.Entry<String, String>> out = new ArrayList<>(upstream.size());
    for (int i = 0; i < upstream.size(); i++) {
      String name = upstream.name(i);
      String lower = name.toLowerCase(Locale.ROOT);
      if (HOP_BY_HOP.contains(lower) || NOT_TO_CLIENT.contains(lower) || listed.contains(lower)
          || lower.startsWith("access-control-")
          || (bodyRewritten && (lower.equals("content-length") || lower.equals("content-encoding")))
          || !isSafeValue(upstream.value(i))) {
        continue;
      }
      out.add(new SimpleImmutableEntry<>(name, upstream.value(i)));
    }
    return out;
  }

  /** The header names listed in {@code Connection} values (RFC 9110 7.6.1), lower case. */
  private static Set<String> connectionListed(List<String> connectionValues) {
    Set<String> listed = new HashSet<>();
    for (String value : connectionValues) {
      for (String token : value.split(",")) {
        listed.add(token.strip().toLowerCase(Locale.ROOT));
      }
    }
    return listed;
  }


  /** Visible ASCII, space and tab only: no CR, LF, NUL or non-ASCII that could split or corrupt a header. */
  static boolean isSafeValue(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if ((c < 0x20 && c != '\t') || c >= 0x7f) {
        return false;
      }
    }
    return true;
  }

  static boolean isToken(String name) {
    if (name.isEmpty()) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c <= 0x20 || c >= 0x7f || "()<>@,;:\\\"/[]?={}".indexOf(c) >= 0) {
        return false;
      }
    }
    return true;
  }
}
