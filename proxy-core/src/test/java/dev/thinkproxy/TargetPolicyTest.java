package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Which upstreams the proxy may reach. Hosts are passed as OkHttp's canonical host (lower case, IPv6 without
 * brackets). Addresses are always built with {@link InetAddress#getByAddress}, never through DNS.
 */
class TargetPolicyTest {

  private static final TargetPolicy DEFAULT = TargetPolicy.defaults();

  static Stream<String> nonPublicHosts() {
    return Stream.of(
        "127.0.0.1", // loopback
        "127.255.255.254",
        "10.1.2.3", // RFC 1918
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254", // link-local: AWS/GCP/Azure metadata
        "100.100.100.200", // CGNAT: Alibaba Cloud metadata
        "0.0.0.0", // reaches the local host
        "168.63.129.16", // Azure WireServer
        "224.0.0.1", // multicast
        "255.255.255.255",
        "::1", // IPv6 loopback
        "::", // unspecified
        "fd00:ec2::254", // unique local: AWS IMDS over IPv6
        "fe80::1", // link-local
        "::ffff:127.0.0.1", // IPv4-mapped loopback
        "::ffff:a9fe:a9fe", // IPv4-mapped metadata
        "64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
        "2002:7f00:1::", // 6to4 of 127.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
        "2001:db8::1", // documentation
        "localhost",
        "foo.localhost",
        "localhost.",
        "LOCALHOST");
  }

  @ParameterizedTest(name = "{0} is refused by default")
  @MethodSource("nonPublicHosts")
  void nonPublicHostIsRefusedWith403ByDefault(String host) {
    ProxyException e = catchThrowableOfType(ProxyException.class, () -> DEFAULT.checkHost(host, 443));

    assertThat(e).as(host + " must be refused").isNotNull();
    assertThat(e.status()).isEqualTo(403);
    assertThat(e.code()).isEqualTo("target_refused");
    assertThat(e.getMessage()).isNotBlank();
  }

  @ParameterizedTest(name = "{0} is permitted by default")
  @ValueSource(strings = {"8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "api.openai.com", "llm.chutes.ai",
      "openrouter.ai", "localhost.example.com"})
  void publicAddressOrAnyNameIsPermittedByDefault(String host) {
    // Names are checked address by address when they are resolved and connected, not here.
    assertThatCode(() -> DEFAULT.checkHost(host, 443)).doesNotThrowAnyException();
  }

  @ParameterizedTest(name = "{0} is permitted with allowPrivateNetworks")
  @MethodSource("nonPublicHosts")
  void allowPrivateNetworksPermitsEveryHost(String host) {
    TargetPolicy open = TargetPolicy.builder().allowPrivateNetworks(true).build();

    assertThatCode(() -> open.checkHost(host, 8000)).doesNotThrowAnyException();
  }

  @Test
  void defaultPolicyHasNoAllowListAndRefusesPrivateNetworks() {
    assertThat(DEFAULT.allowPrivateNetworks()).isFalse();
    assertThat(DEFAULT.allowHosts()).isEmpty();
  }

  @Nested
  class AllowHostWithAddressAndPort {
    private final TargetPolicy policy = TargetPolicy.builder().allowHost("127.0.0.1:8000").build();

    @Test
    void permitsThatAddressOnThatPort() {
      assertThatCode(() -> policy.checkHost("127.0.0.1", 8000)).doesNotThrowAnyException();
    }

    @Test
    void refusesThatAddressOnAnotherPort() {
      assertRefused(() -> policy.checkHost("127.0.0.1", 8001));
    }

    @Test
    void refusesPublicHostsThatAreNotInTheList() {
      assertRefused(() -> policy.checkHost("api.openai.com", 443));
      assertRefused(() -> policy.checkHost("8.8.8.8", 443));
    }

    @Test
    void refusesOtherPrivateAddresses() {
      assertRefused(() -> policy.checkHost("127.0.0.2", 8000));
      assertRefused(() -> policy.checkHost("localhost", 8000));
    }

    @Test
    void permitsConnectingToThatAddressOnThatPortOnly() {
      assertThat(policy.permitsAddress(v4(127, 0, 0, 1), 8000)).isTrue();
      assertThat(policy.permitsAddress(v4(127, 0, 0, 1), 8001)).isFalse();
      assertThat(policy.permitsAddress(v4(127, 0, 0, 2), 8000)).isFalse();
    }

    @Test
    void listsTheEntryAsGiven() {
      assertThat(policy.allowHosts()).containsExactly("127.0.0.1:8000");
    }
  }

  @Test
  void allowHostWithoutPortPermitsEveryPort() {
    TargetPolicy policy = TargetPolicy.builder().allowHost("10.0.0.5").build();

    assertThatCode(() -> policy.checkHost("10.0.0.5", 80)).doesNotThrowAnyException();
    assertThatCode(() -> policy.checkHost("10.0.0.5", 11434)).doesNotThrowAnyException();
    assertThat(policy.permitsAddress(v4(10, 0, 0, 5), 11434)).isTrue();
  }

  @Test
  void allowHostWithBracketedIpv6LiteralPermitsThatAddress() {
    TargetPolicy policy = TargetPolicy.builder().allowHost("[::1]:8000").build();

    assertThatCode(() -> policy.checkHost("::1", 8000)).doesNotThrowAnyException();
    assertRefused(() -> policy.checkHost("::1", 8001));
    assertThat(policy.permitsAddress(v6loopback(), 8000)).isTrue();
  }

  @Nested
  class WildcardAllowHost {
    private final TargetPolicy policy = TargetPolicy.builder().allowHost("*.example.com").build();

    @Test
    void matchesASubdomain() {
      assertThatCode(() -> policy.checkHost("a.example.com", 443)).doesNotThrowAnyException();
      assertThatCode(() -> policy.checkHost("b.a.example.com", 443)).doesNotThrowAnyException();
    }

    @Test
    void matchesCaseInsensitivelyAndWithTrailingDot() {
      assertThatCode(() -> policy.checkHost("A.Example.COM.", 443)).doesNotThrowAnyException();
    }

    @Test
    void doesNotMatchTheBareDomain() {
      assertRefused(() -> policy.checkHost("example.com", 443));
    }

    @Test
    void doesNotMatchADomainThatMerelyEndsWithTheSameLetters() {
      assertRefused(() -> policy.checkHost("evilexample.com", 443));
      assertRefused(() -> policy.checkHost("example.com.evil.org", 443));
    }

    @Test
    void doesNotPermitPrivateAddressesAtConnectTime() {
      // A name in the allow list may still resolve to a private address: that is refused when dialled.
      assertThat(policy.permitsAddress(v4(127, 0, 0, 1), 443)).isFalse();
    }
  }

  @Nested
  class LocalhostAllowHost {
    private final TargetPolicy policy = TargetPolicy.builder().allowHost("localhost:8000").build();

    @Test
    void permitsLocalhostOnThatPort() {
      assertThatCode(() -> policy.checkHost("localhost", 8000)).doesNotThrowAnyException();
    }

    @Test
    void refusesLocalhostOnAnotherPort() {
      assertRefused(() -> policy.checkHost("localhost", 8001));
    }

    @Test
    void permitsConnectingToLoopbackOnThatPort() {
      assertThat(policy.permitsAddress(v4(127, 0, 0, 1), 8000)).isTrue();
      assertThat(policy.permitsAddress(v6loopback(), 8000)).isTrue();
    }

    @Test
    void refusesConnectingToLoopbackOnAnotherPort() {
      assertThat(policy.permitsAddress(v4(127, 0, 0, 1), 8001)).isFalse();
    }

    @Test
    void refusesConnectingToOtherPrivateAddresses() {
      assertThat(policy.permitsAddress(v4(10, 0, 0, 1), 8000)).isFalse();
      assertThat(policy.permitsAddress(v4(169, 254, 169, 254), 8000)).isFalse();
    }

    @Test
    void refusesSubdomainsOfLocalhost() {
      assertRefused(() -> policy.checkHost("foo.localhost", 8000));
    }
  }

  @Test
  void namedAllowHostDoesNotPermitPrivateAddresses() {
    TargetPolicy policy = TargetPolicy.builder().allowHost("my-vllm.internal").build();

    assertThatCode(() -> policy.checkHost("my-vllm.internal", 8000)).doesNotThrowAnyException();
    assertThat(policy.permitsAddress(v4(10, 0, 0, 7), 8000)).isFalse();
  }

  static Stream<Arguments> deniedAddresses() {
    return Stream.of(
        Arguments.of("127.0.0.1", bytes(127, 0, 0, 1)),
        Arguments.of("10.1.2.3", bytes(10, 1, 2, 3)),
        Arguments.of("172.31.255.255", bytes(172, 31, 255, 255)),
        Arguments.of("192.168.0.1", bytes(192, 168, 0, 1)),
        Arguments.of("169.254.169.254", bytes(169, 254, 169, 254)),
        Arguments.of("100.100.100.200", bytes(100, 100, 100, 200)),
        Arguments.of("100.64.0.1", bytes(100, 64, 0, 1)),
        Arguments.of("0.0.0.0", bytes(0, 0, 0, 0)),
        Arguments.of("198.18.0.1", bytes(198, 18, 0, 1)),
        Arguments.of("240.0.0.1", bytes(240, 0, 0, 1)),
        Arguments.of("::1", v6("0000:0000:0000:0000:0000:0000:0000:0001")),
        Arguments.of("::", v6("0000:0000:0000:0000:0000:0000:0000:0000")),
        Arguments.of("fd00:ec2::254", v6("fd00:0ec2:0000:0000:0000:0000:0000:0254")),
        Arguments.of("fe80::1", v6("fe80:0000:0000:0000:0000:0000:0000:0001")),
        Arguments.of("64:ff9b::a9fe:a9fe", v6("0064:ff9b:0000:0000:0000:0000:a9fe:a9fe")),
        Arguments.of("2002:7f00:1::", v6("2002:7f00:0001:0000:0000:0000:0000:0000")),
        Arguments.of("2001:db8::1", v6("2001:0db8:0000:0000:0000:0000:0000:0001")),
        Arguments.of("ff02::1", v6("ff02:0000:0000:0000:0000:0000:0000:0001")));
  }

  @ParameterizedTest(name = "connecting to {0} is refused by default")
  @MethodSource("deniedAddresses")
  void connectingToANonPublicAddressIsRefusedByDefault(String name, byte[] address) throws UnknownHostException {
    InetAddress a = InetAddress.getByAddress(address);

    assertThat(DEFAULT.permitsAddress(a, 443)).as(name).isFalse();
    assertThat(DEFAULT.permitsAddress(a, -1)).as(name + " on any port").isFalse();
  }

  @ParameterizedTest(name = "connecting to {0} is permitted with allowPrivateNetworks")
  @MethodSource("deniedAddresses")
  void connectingToANonPublicAddressIsPermittedWithAllowPrivateNetworks(String name, byte[] address)
      throws UnknownHostException {
    TargetPolicy open = TargetPolicy.builder().allowPrivateNetworks(true).build();

    assertThat(open.permitsAddress(InetAddress.getByAddress(address), 443)).as(name).isTrue();
  }

  @Test
  void connectingToPublicAddressesIsPermittedByDefault() throws UnknownHostException {
    assertThat(DEFAULT.permitsAddress(v4(8, 8, 8, 8), 443)).isTrue();
    assertThat(DEFAULT.permitsAddress(InetAddress.getByAddress(v6("2001:4860:4860:0000:0000:0000:0000:8888")), 443))
        .isTrue();
  }

  @ParameterizedTest(name = "invalid allow-host entry \"{0}\"")
  @ValueSource(strings = {"", "   ", "http://example.com", "example.com/path", "example.com:0", "example.com:65536",
      "example.com:abc", "example.com:", "[::1", "[::1]x", "[::1]:0", "*.", "*", "exa*mple.com", "a b.com",
      "-example.com", "user@example.com", "[zz::1]", "1::2::3"})
  void invalidAllowHostEntryIsRejected(String entry) {
    assertThatThrownBy(() -> TargetPolicy.builder().allowHost(entry))
        .isInstanceOf(IllegalArgumentException.class)
        .satisfies(e -> assertThat(e.getMessage()).isNotBlank());
  }

  @Test
  void allowHostsAddsEveryEntry() {
    TargetPolicy policy = TargetPolicy.builder().allowHosts(java.util.List.of("a.com", "b.com:8443")).build();

    assertThat(policy.allowHosts()).containsExactly("a.com", "b.com:8443");
    assertThatCode(() -> policy.checkHost("b.com", 8443)).doesNotThrowAnyException();
    assertRefused(() -> policy.checkHost("b.com", 443));
    assertRefused(() -> policy.checkHost("c.com", 443));
  }

  private static void assertRefused(org.assertj.core.api.ThrowableAssert.ThrowingCallable call) {
    ProxyException e = catchThrowableOfType(ProxyException.class, call);
    assertThat(e).as("expected a refusal").isNotNull();
    assertThat(e.status()).isEqualTo(403);
    assertThat(e.getMessage()).isNotBlank();
  }

  private static InetAddress v4(int a, int b, int c, int d) {
    try {
      return InetAddress.getByAddress(bytes(a, b, c, d));
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  private static InetAddress v6loopback() {
    try {
      return InetAddress.getByAddress(v6("0000:0000:0000:0000:0000:0000:0000:0001"));
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  private static byte[] bytes(int... octets) {
    byte[] b = new byte[octets.length];
    for (int i = 0; i < octets.length; i++) {
      b[i] = (byte) octets[i];
    }
    return b;
  }

  /** Eight full groups of four hex digits, parsed by hand so that no resolver is involved. */
  private static byte[] v6(String full) {
    String[] groups = full.split(":");
    if (groups.length != 8) {
      throw new IllegalArgumentException(full);
    }
    byte[] b = new byte[16];
    for (int i = 0; i < 8; i++) {
      int g = Integer.parseInt(groups[i], 16);
      b[2 * i] = (byte) (g >> 8);
      b[2 * i + 1] = (byte) g;
    }
    return b;
  }
}
