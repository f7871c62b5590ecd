package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The checks behind {@link TargetPolicy} that see the addresses really dialled: the socket factory (every connect)
 * and the resolver wrapper (every name). No DNS and no outside network: addresses are literals and the resolver is
 * a stub.
 */
class ConnectTimeGuardTest {

  private static InetAddress address(int a, int b, int c, int d) throws UnknownHostException {
    return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
  }

  @Test
  void socketRefusesToConnectToLoopbackByDefault() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 1, address(127, 0, 0, 1));
        Socket s = new GuardedSocketFactory(TargetPolicy.defaults()).createSocket()) {
      InetSocketAddress target = new InetSocketAddress(address(127, 0, 0, 1), server.getLocalPort());

      assertThatThrownBy(() -> s.connect(target, 1000)).isInstanceOf(TargetRefusedException.class)
          .hasMessageContaining("127.0.0.1");
      assertThat(s.isConnected()).isFalse();
    }
  }

  @Test
  void socketRefusesMetadataAddressWithoutTryingToConnect() throws Exception {
    try (Socket s = new GuardedSocketFactory(TargetPolicy.defaults()).createSocket()) {
      // No route is needed: the refusal happens before any packet is sent.
      assertThatThrownBy(() -> s.connect(new InetSocketAddress(address(169, 254, 169, 254), 80), 1000))
          .isInstanceOf(TargetRefusedException.class);
    }
  }

  @Test
  void socketRefusesAnUnresolvedAddress() throws Exception {
    try (Socket s = new GuardedSocketFactory(TargetPolicy.defaults()).createSocket()) {
      assertThatThrownBy(() -> s.connect(InetSocketAddress.createUnresolved("example.com", 80), 1000))
          .isInstanceOf(TargetRefusedException.class);
    }
  }

  @Test
  void socketConnectsToAnAllowedAddressAndPort() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 1, address(127, 0, 0, 1))) {
      TargetPolicy policy = TargetPolicy.builder().allowHost("127.0.0.1:" + server.getLocalPort()).build();
      try (Socket s = new GuardedSocketFactory(policy).createSocket()) {
        s.connect(new InetSocketAddress(address(127, 0, 0, 1), server.getLocalPort()), 1000);

        assertThat(s.isConnected()).isTrue();
      }
    }
  }

  @Test
  void socketRefusesAnAllowedAddressOnAnotherPort() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 1, address(127, 0, 0, 1))) {
      TargetPolicy policy = TargetPolicy.builder().allowHost("127.0.0.1:" + (server.getLocalPort() == 1 ? 2 : 1))
          .build();
      try (Socket s = new GuardedSocketFactory(policy).createSocket()) {
        assertThatThrownBy(() -> s.connect(new InetSocketAddress(address(127, 0, 0, 1), server.getLocalPort()), 1000))
            .isInstanceOf(TargetRefusedException.class);
      }
    }
  }

  @Test
  void resolverRefusesANameWhenAnyOfItsAddressesIsPrivate() throws Exception {
    InetAddress pub = address(8, 8, 8, 8);
    InetAddress loop = address(127, 0, 0, 1);
    PolicyDns dns = new PolicyDns(TargetPolicy.defaults(), host -> List.of(pub, loop));

    assertThatThrownBy(() -> dns.lookup("rebind.example")).isInstanceOf(TargetRefusedException.class)
        .hasMessageContaining("rebind.example").hasMessageContaining("127.0.0.1");
  }

  @Test
  void resolverReturnsPublicAddressesUnchanged() throws Exception {
    InetAddress a = address(8, 8, 8, 8);
    InetAddress b = address(1, 1, 1, 1);
    PolicyDns dns = new PolicyDns(TargetPolicy.defaults(), host -> List.of(a, b));

    assertThat(dns.lookup("api.example")).containsExactly(a, b);
  }
}
