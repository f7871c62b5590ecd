package dev.thinkproxy;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.List;

/**
 * Which addresses count as public. Everything that is not globally reachable unicast is private here: loopback,
 * RFC 1918, CGNAT, link-local (cloud metadata), documentation and benchmarking ranges, multicast, reserved
 * space, IPv6 outside {@code 2000::/3}, and the IPv6 forms that embed an IPv4 address (NAT64, 6to4, Teredo),
 * plus the addresses of this host's own interfaces.
 */
final class AddressRules {
  private record Cidr(byte[] network, int bits) {
    boolean contains(byte[] a) {
      if (a.length != network.length) {
        return false;
      }
      int full = bits / 8;
      for (int i = 0; i < full; i++) {
        if (a[i] != network[i]) {
          return false;
        }
      }
      int rem = bits % 8;
      if (rem == 0) {
        return true;
      }
      int mask = (0xff << (8 - rem)) & 0xff;
      return (a[full] & mask) == (network[full] & mask);
    }
  }

  private static final List<Cidr> DENIED_V4 = List.of(
      cidr("0.0.0.0", 8), // "this network"; 0.0.0.0 reaches the local host
      cidr("10.0.0.0", 8),
      cidr("100.64.0.0", 10), // CGNAT, also Alibaba Cloud metadata
      cidr("127.0.0.0", 8),
      cidr("169.254.0.0", 16), // link-local: cloud metadata
      cidr("172.16.0.0", 12),
      cidr("192.0.0.0", 24),
      cidr("192.0.2.0", 24),
      cidr("192.31.196.0", 24),
      cidr("192.52.193.0", 24),
      cidr("192.88.99.0", 24),
      cidr("192.168.0.0", 16),
      cidr("192.175.48.0", 24),
      cidr("198.18.0.0", 15),
      cidr("198.51.100.0", 24),
      cidr("203.0.113.0", 24),
      cidr("224.0.0.0", 4),
      cidr("240.0.0.0", 4),
      cidr("168.63.129.16", 32)); // Azure WireServer

  private static final Cidr GLOBAL_V6 = cidr("2000::", 3);
  private static final List<Cidr> DENIED_V6_IN_GLOBAL = List.of(
      cidr("2001::", 23), // IETF protocol assignments, including Teredo 2001::/32
      cidr("2001:db8::", 32),
      cidr("2002::", 16), // 6to4
      cidr("3fff::", 20));

  private AddressRules() {}

  /** Whether the address is globally reachable unicast and not one of this host's own addresses. */
  static boolean isPublic(InetAddress address) {
    byte[] a = address.getAddress();
    if (address instanceof Inet4Address) {
      for (Cidr c : DENIED_V4) {
        if (c.contains(a)) {
          return false;
        }
      }
    } else if (address instanceof Inet6Address) {
      if (!GLOBAL_V6.contains(a)) {
        return false;
      }
      for (Cidr c : DENIED_V6_IN_GLOBAL) {
        if (c.contains(a)) {
          return false;
        }
      }
    } else {
      return false;
    }
    return !isLocalInterface(address);
  }

  private static boolean isLocalInterface(InetAddress address) {
    try {
      return NetworkInterface.getByInetAddress(address) != null;
    } catch (SocketException e) {
      return true;
    }
  }

  private static Cidr cidr(String literal, int bits) {
    return new Cidr(literalBytes(literal), bits);
  }

  /** The bytes of an address literal, without any name lookup. */
  static byte[] literalBytes(String literal) {
    try {
      // InetAddress.getByName does not consult DNS for literals; the callers only pass literals. A string with a
      // colon that does not start with a hex digit ("zz::1") would still go to the resolver, so IPv6 is bracketed:
      // then Java parses it as a literal or fails, and never looks it up.
      String s = literal.indexOf(':') >= 0 && !literal.startsWith("[") ? "[" + literal + "]" : literal;
      return InetAddress.getByName(s).getAddress();
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException("not an address literal: " + literal, e);
    }
  }
}
