package dev.thinkproxy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Which upstreams the proxy may connect to. The upstream URL comes from the client, so by default only public
 * hosts are allowed: loopback, private, link-local (cloud metadata) and other non-public addresses are refused
 * with 403, also when a public-looking name resolves to them, because every address is checked again when the
 * connection is opened.
 *
 * <p>Two switches open it up: {@link Builder#allowPrivateNetworks(boolean)} lifts the address rules (to reach a
 * local vLLM or Ollama), and {@link Builder#allowHost(String)} entries restrict the proxy to matching hosts
 * ({@code host}, {@code host:port}, {@code *.domain}). An entry that is an IP literal, or {@code localhost},
 * also permits exactly that address (with its port, if given), private or not.
 *
 * <p>Immutable and thread-safe.
 */
public final class TargetPolicy {
  private static final TargetPolicy DEFAULTS = builder().build();

  private enum Kind { NAME, WILDCARD, ADDRESS, LOCALHOST }

  private record HostPattern(String text, Kind kind, String name, byte @Nullable [] address, int port) {
    boolean matchesHost(String host, byte @Nullable [] hostAddress, int p) {
      if (port >= 0 && port != p) {
        return false;
      }
      switch (kind) {
        case WILDCARD:
          return host.endsWith("." + name);
        case ADDRESS:
          return hostAddress != null && Arrays.equals(address, hostAddress);
        default:
          return host.equals(name);
      }
    }

    boolean permitsAddress(InetAddress a, int p) {
      if (port >= 0 && p >= 0 && port != p) {
        return false;
      }
      if (kind == Kind.ADDRESS) {
        return Arrays.equals(address, a.getAddress());
      }
      return kind == Kind.LOCALHOST && a.isLoopbackAddress();
    }
  }

  private final boolean allowPrivateNetworks;
  private final List<HostPattern> allowHosts;

  private TargetPolicy(Builder b) {
    this.allowPrivateNetworks = b.allowPrivateNetworks;
    this.allowHosts = List.copyOf(b.allowHosts);
  }

  /** {@return the default policy: public hosts only, any of them} */
  public static TargetPolicy defaults() {
    return DEFAULTS;
  }

  /**
   * Starts a policy.
   *
   * @return a builder with the defaults
   */
  public static Builder builder() {
    return new Builder();
  }

  /** {@return whether loopback, private and link-local upstreams are permitted} */
  public boolean allowPrivateNetworks() {
    return allowPrivateNetworks;
  }

  /** {@return the allow-host entries as given; empty means every public host} */
  public List<String> allowHosts() {
    return allowHosts.stream().map(HostPattern::text).toList();
  }

  /**
   * Checks the URL's host before any connection: allow list, names that always mean this machine, and address
   * literals. Names are checked again, address by address, when they are resolved and connected.
   *
   * @param host the canonical host (lower case, IDN in punycode, IPv6 without brackets)
   * @throws ProxyException 403 when the policy refuses the host
   */
  void checkHost(String host, int port) {
    String name = TargetResolver.stripTrailingDot(host.toLowerCase(Locale.ROOT));
    byte[] literal = literalAddress(name);
    HostPattern matched = null;
    for (HostPattern p : allowHosts) {
      if (p.matchesHost(name, literal, port)) {
        matched = p;
        break;
      }
    }
    if (!allowHosts.isEmpty() && matched == null) {
      throw ProxyException.refused("upstream host " + name + " is not in the proxy's allow list");
    }
    if (allowPrivateNetworks) {
      return;
    }
    if (name.equals("localhost") || name.endsWith(".localhost")) {
      if (matched == null || matched.kind() != Kind.LOCALHOST) {
        throw ProxyException.refused(
            "upstream host " + name + " is this machine; start the proxy with --allow-private-networks "
                + "or --allow-host " + name + ":" + port + " to permit it");
      }
      return;
    }
    if (literal != null && !permitsAddress(toAddress(literal), port)) {
      throw ProxyException.refused(
          "upstream address " + name + " is not public; start the proxy with --allow-private-networks "
              + "or --allow-host " + (name.contains(":") ? "[" + name + "]" : name) + " to permit it");
    }
  }

  /**
   * Whether a connection to this address and port is permitted; a port of -1 means "some port". Checked for every
   * address that is dialled.
   */
  boolean permitsAddress(InetAddress address, int port) {
    if (allowPrivateNetworks || AddressRules.isPublic(address)) {
      return true;
    }
    for (HostPattern p : allowHosts) {
      if (p.permitsAddress(address, port)) {
        return true;
      }
    }
    return false;
  }

  private static byte @Nullable [] literalAddress(String host) {
    if (TargetResolver.DOTTED_QUAD.matcher(host).matches() || host.indexOf(':') >= 0) {
      return AddressRules.literalBytes(host);
    }
    return null;
  }

  private static InetAddress toAddress(byte[] bytes) {
    try {
      return InetAddress.getByAddress(bytes);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  @Override
  public String toString() {
    return "TargetPolicy{allowPrivateNetworks=" + allowPrivateNetworks + ", allowHosts=" + allowHosts() + "}";
  }

  /** Builds a {@link TargetPolicy}. */
  public static final class Builder {
    private boolean allowPrivateNetworks;
    private final List<HostPattern> allowHosts = new ArrayList<>();

    private Builder() {}

    /**
     * Permit upstreams on loopback, private and link-local addresses. Default false.
     *
     * @param allow whether to permit them
     * @return this builder
     */
    public Builder allowPrivateNetworks(boolean allow) {
      this.allowPrivateNetworks = allow;
      return this;
    }

    /**
     * Adds an allow-host entry: {@code host}, {@code host:port}, {@code *.domain}, an IP literal
     * ({@code 127.0.0.1:8000}, {@code [::1]:8000}) or {@code localhost[:port]}. Once any entry is present, only
     * matching hosts are allowed.
     *
     * @param entry the entry
     * @return this builder
     * @throws IllegalArgumentException for an entry that is not one of these forms
     */
    public Builder allowHost(String entry) {
      allowHosts.add(parse(entry));
      return this;
    }

    /**
     * Adds several allow-host entries, as {@link #allowHost(String)}.
     *
     * @param entries the entries
     * @return this builder
     */
    public Builder allowHosts(Iterable<String> entries) {
      for (String e : entries) {
        allowHost(e);
      }
      return this;
    }

    /** {@return the immutable policy} */
    public TargetPolicy build() {
      return new TargetPolicy(this);
    }

    private static HostPattern parse(String entry) {
      String e = entry.strip().toLowerCase(Locale.ROOT);
      if (e.isEmpty()) {
        throw new IllegalArgumentException("empty allow-host entry");
      }
      String host = e;
      int port = -1;
      if (e.startsWith("[")) {
        int close = e.indexOf(']');
        if (close < 0) {
          throw new IllegalArgumentException("unterminated IPv6 literal in allow-host entry: " + entry);
        }
        host = e.substring(1, close);
        String tail = e.substring(close + 1);
        if (!tail.isEmpty()) {
          port = parsePort(tail.startsWith(":") ? tail.substring(1) : tail, entry);
        }
      } else if (e.indexOf(':') >= 0 && e.indexOf(':') == e.lastIndexOf(':')) {
        host = e.substring(0, e.indexOf(':'));
        port = parsePort(e.substring(e.indexOf(':') + 1), entry);
      }
      host = TargetResolver.stripTrailingDot(host);
      if (host.indexOf(':') >= 0 || TargetResolver.DOTTED_QUAD.matcher(host).matches()) {
        return new HostPattern(entry, Kind.ADDRESS, host, AddressRules.literalBytes(host), port);
      }
      if (!host.matches("(\\*\\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")) {
        throw new IllegalArgumentException("not a host pattern (host, host:port, *.domain, IP): " + entry);
      }
      if (host.startsWith("*.")) {
        return new HostPattern(entry, Kind.WILDCARD, host.substring(2), null, port);
      }
      if (host.equals("localhost")) {
        return new HostPattern(entry, Kind.LOCALHOST, host, null, port);
      }
      return new HostPattern(entry, Kind.NAME, host, null, port);
    }

    private static int parsePort(String s, String entry) {
      if (!s.matches("[0-9]{1,5}") || Integer.parseInt(s) < 1 || Integer.parseInt(s) > 65535) {
        throw new IllegalArgumentException("invalid port in allow-host entry: " + entry);
      }
      return Integer.parseInt(s);
    }
  }
}
