package dev.thinkproxy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.HttpUrl;

/**
 * Turns the raw path after the mount point into the upstream URL. Accepted base forms: {@code https://host},
 * the collapsed {@code https:/host} (what Tomcat-style slash merging leaves), and percent-encoded
 * {@code https%3A%2F%2Fhost} / {@code https:%2F%2Fhost} / {@code https%3A//host}; each may carry a port and
 * a path prefix, and the query is kept verbatim. Anything that could make the checked URL differ from the one
 * fetched (userinfo, dot segments, backslashes, control characters, zone ids, non-canonical numeric hosts) is
 * refused with 400 before any network I/O.
 */
final class TargetResolver {
  private static final Pattern SCHEME = Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]*):");
  private static final Pattern PORT = Pattern.compile("[0-9]{1,5}");
  private static final Pattern NUMERIC_LABEL = Pattern.compile("[0-9]+|0[xX][0-9a-fA-F]*");
  static final Pattern DOTTED_QUAD =
      Pattern.compile("(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}");

  /**
   * Where a request goes.
   *
   * @param url the upstream URL
   * @param alias the provider alias the path named, or null for a base URL in the path
   */
  record Target(HttpUrl url, String alias) {}

  private TargetResolver() {}

  /**
   * Resolves a path that starts either with a base URL or with a provider alias ({@code /openai/v1/...}). The two
   * cannot be confused: every URL form has a {@code :} or a {@code %} in the path's first segment, no alias name
   * has either.
   *
   * @param aliasesOnly refuse base URLs in the path (403): only aliases are served
   */
  static Target resolve(String rawPath, String rawQuery, ProviderAliases providers, boolean aliasesOnly) {
    String p = rawPath.startsWith("/") ? rawPath.substring(1) : rawPath;
    int firstSlash = p.indexOf('/');
    String first = firstSlash < 0 ? p : p.substring(0, firstSlash);
    boolean urlForm = first.isEmpty() || first.indexOf(':') >= 0 || first.indexOf('%') >= 0;
    if (urlForm || first.equalsIgnoreCase("http") || first.equalsIgnoreCase("https")) {
      if (aliasesOnly) {
        throw new ProxyException(403, "invalid_request_error", "provider_required",
            "this proxy forwards only to its configured providers: use /proxy/NAME/v1/... with one of "
                + String.join(", ", providers.asMap().keySet()));
      }
      return new Target(resolve(rawPath, rawQuery), null);
    }
    String name = first.toLowerCase(Locale.ROOT);
    HttpUrl base = providers.base(name);
    if (base == null) {
      throw new ProxyException(400, "invalid_request_error", "unknown_provider",
          "unknown provider '" + clip(first) + "': put a configured provider name ("
              + String.join(", ", providers.asMap().keySet()) + ") or a base URL such as https://api.openai.com/v1 "
              + "after the mount point");
    }
    String rest = firstSlash < 0 ? "" : p.substring(firstSlash);
    if (!rest.equals("/v1") && !rest.startsWith("/v1/")) {
      throw ProxyException.badTarget("after a provider name the path starts with /v1, e.g. /proxy/" + name
          + "/v1/chat/completions; /v1 stands for the provider's base URL " + base);
    }
    String path = rest.substring(3);
    checkPath(path);
    if (rawQuery != null) {
      checkNoControlChars(rawQuery, "query");
    }
    String root = base.newBuilder().encodedPath("/").build().toString();
    String basePath = base.encodedPath();
    HttpUrl url = HttpUrl.parse(root.substring(0, root.length() - 1)
        + (basePath.endsWith("/") ? basePath.substring(0, basePath.length() - 1) : basePath)
        + path + (rawQuery == null ? "" : "?" + rawQuery));
    if (url == null) {
      throw ProxyException.badTarget("not a valid upstream path: " + clip(path));
    }
    return new Target(url, name);
  }

  private static String clip(String s) {
    return s.length() > 64 ? s.substring(0, 64) + "…" : s;
  }

  /** Resolves a path that starts with a base URL. */
  static HttpUrl resolve(String rawPath, String rawQuery) {
    String p = rawPath.startsWith("/") ? rawPath.substring(1) : rawPath;
    if (p.isEmpty()) {
      throw ProxyException.badTarget(
          "missing upstream URL: put the provider's base URL after the mount point, "
              + "e.g. /proxy/https://api.openai.com/v1/chat/completions");
    }
    // A client that percent-encodes its base URL encodes the part before the first raw '/': decode it once.
    int firstSlash = p.indexOf('/');
    String first = firstSlash < 0 ? p : p.substring(0, firstSlash);
    String rest = firstSlash < 0 ? "" : p.substring(firstSlash);
    if (first.indexOf('%') >= 0) {
      first = percentDecode(first);
    }
    String s = first + rest;

    Matcher m = SCHEME.matcher(s);
    if (!m.find()) {
      throw ProxyException.badTarget("upstream URL must start with http:// or https://");
    }
    String scheme = m.group(1).toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw ProxyException.badTarget("upstream scheme must be http or https, not " + scheme);
    }
    String after = s.substring(m.end());
    if (after.startsWith("//")) {
      after = after.substring(2);
    } else if (after.startsWith("/")) {
      after = after.substring(1);
    } else {
      throw ProxyException.badTarget("upstream URL must start with " + scheme + "://");
    }
    int pathStart = after.indexOf('/');
    String authority = pathStart < 0 ? after : after.substring(0, pathStart);
    String path = pathStart < 0 ? "/" : after.substring(pathStart);

    String host = checkAuthority(authority);
    checkPath(path);
    if (rawQuery != null) {
      checkNoControlChars(rawQuery, "query");
    }

    String url = scheme + "://" + authority + path + (rawQuery == null ? "" : "?" + rawQuery);
    HttpUrl parsed = HttpUrl.parse(url);
    if (parsed == null) {
      throw ProxyException.badTarget("not a valid upstream URL: " + url);
    }
    // IDN and other mappings can turn a name into an address literal ("①②⑦.⓪.⓪.①"): only canonical literals.
    if (!host.startsWith("[") && DOTTED_QUAD.matcher(parsed.host()).matches()
        && !stripTrailingDot(host).equalsIgnoreCase(parsed.host())) {
      throw ProxyException.badTarget("upstream host is not a canonical IPv4 address: " + host);
    }
    // ...or into a non-canonical numeric host ("①②⑦.①" → "127.1", full-width "２１３０７０６４３３"), which OkHttp
    // dials as an address without asking Dns: apply the same rule to the host as OkHttp will use it.
    if (!host.startsWith("[")) {
      checkNumericHost(parsed.host());
    }
    return parsed;
  }

  /** Checks the authority and returns its host part as written. */
  private static String checkAuthority(String authority) {
    if (authority.isEmpty()) {
      throw ProxyException.badTarget("upstream URL has no host");
    }
    for (int i = 0; i < authority.length(); i++) {
      char c = authority.charAt(i);
      switch (c) {
        case '@':
          throw ProxyException.badTarget("upstream URL must not contain userinfo (user:password@)");
        case '\\':
        case ';':
        case '#':
        case '?':
        case '%':
        case ',':
          throw ProxyException.badTarget("upstream host contains a forbidden character '" + c + "'");
        default:
          if (c <= 0x20 || c == 0x7f) {
            throw ProxyException.badTarget("upstream host contains a control character or space");
          }
      }
    }
    String host;
    String port = null;
    if (authority.startsWith("[")) {
      int close = authority.indexOf(']');
      if (close < 0) {
        throw ProxyException.badTarget("unterminated IPv6 literal in upstream host");
      }
      host = authority.substring(0, close + 1);
      String tail = authority.substring(close + 1);
      if (!tail.isEmpty()) {
        if (!tail.startsWith(":")) {
          throw ProxyException.badTarget("unexpected characters after IPv6 literal: " + tail);
        }
        port = tail.substring(1);
      }
    } else {
      int colon = authority.lastIndexOf(':');
      host = colon < 0 ? authority : authority.substring(0, colon);
      port = colon < 0 ? null : authority.substring(colon + 1);
      if (host.indexOf(':') >= 0) {
        throw ProxyException.badTarget("IPv6 upstream hosts must be in brackets: [" + host + "]");
      }
      checkNumericHost(host);
    }
    if (host.isEmpty() || host.equals("[]") || stripTrailingDot(host).isEmpty()) {
      throw ProxyException.badTarget("upstream URL has no host");
    }
    if (port != null) {
      if (!PORT.matcher(port).matches() || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
        throw ProxyException.badTarget("invalid upstream port: " + port);
      }
    }
    return host;
  }

  /**
   * Hosts that look numeric must be canonical dotted quads: no {@code 127.1}, {@code 0x7f000001}, octal, dword or
   * trailing dot.
   */
  private static void checkNumericHost(String host) {
    String h = stripTrailingDot(host);
    int dot = h.lastIndexOf('.');
    String last = dot < 0 ? h : h.substring(dot + 1);
    // "127.0.0.1." is an address literal to OkHttp, which then resolves it with the system resolver, past Dns.
    if (NUMERIC_LABEL.matcher(last).matches() && (!DOTTED_QUAD.matcher(h).matches() || !h.equals(host))) {
      throw ProxyException.badTarget("upstream host is not a canonical IPv4 address: " + host);
    }
  }

  private static void checkPath(String path) {
    checkNoControlChars(path, "path");
    if (path.indexOf('\\') >= 0 || path.indexOf('#') >= 0) {
      throw ProxyException.badTarget("upstream path contains a forbidden character");
    }
    // Encoded separators count as separators: an upstream that decodes them would see the dot segment.
    String separated = path.replaceAll("(?i)%2f|%5c", "/").replaceAll("(?i)%2e", ".");
    for (String segment : separated.split("/", -1)) {
      if (segment.equals(".") || segment.equals("..")) {
        throw ProxyException.badTarget("upstream path must not contain dot segments (. or ..)");
      }
    }
  }


  private static void checkNoControlChars(String s, String what) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        throw ProxyException.badTarget("upstream " + what + " contains a control character");
      }
    }
    String lower = s.toLowerCase(Locale.ROOT);
    if (lower.contains("%00") || lower.contains("%0d") || lower.contains("%0a")) {
      throw ProxyException.badTarget("upstream " + what + " contains an encoded control character");
    }
  }

  private static String percentDecode(String s) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%') {
        if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0 || Character.digit(s.charAt(i + 2), 16) < 0) {
          throw ProxyException.badTarget("malformed percent-encoding in upstream URL");
        }
        out.write(Character.digit(s.charAt(i + 1), 16) * 16 + Character.digit(s.charAt(i + 2), 16));
        i += 2;
      } else if (c < 0x80) {
        out.write(c);
      } else {
        byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        out.write(b, 0, b.length);
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  static String stripTrailingDot(String host) {
    return host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
  }
}
