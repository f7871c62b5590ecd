package dev.thinkproxy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import javax.net.SocketFactory;

/**
 * Creates sockets that check every address against the {@link TargetPolicy} in {@code connect()}, the one
 * place that sees each address OkHttp really dials: it skips {@code Dns} for numeric hosts, so a resolver-only
 * check would miss {@code 127.1} or an IDN host made of digits, and a re-resolved name (DNS rebinding) is
 * caught here too. For https the check runs before the TLS handshake, so a refused address gets no bytes.
 */
final class GuardedSocketFactory extends SocketFactory {
  private final TargetPolicy policy;

  GuardedSocketFactory(TargetPolicy policy) {
    this.policy = policy;
  }

  @Override
  public Socket createSocket() {
    return new GuardedSocket(policy);
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    Socket s = createSocket();
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
    Socket s = createSocket();
    s.bind(new InetSocketAddress(localHost, localPort));
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws IOException {
    Socket s = createSocket();
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
      throws IOException {
    Socket s = createSocket();
    s.bind(new InetSocketAddress(localAddress, localPort));
    s.connect(new InetSocketAddress(address, port));
    return s;
  }

  private static final class GuardedSocket extends Socket {
    private final TargetPolicy policy;

    GuardedSocket(TargetPolicy policy) {
      this.policy = policy;
    }

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
      if (!(endpoint instanceof InetSocketAddress)) {
        throw new TargetRefusedException("unsupported address type");
      }
      InetSocketAddress target = (InetSocketAddress) endpoint;
      InetAddress address = target.getAddress();
      if (address == null || !policy.permitsAddress(address, target.getPort())) {
        throw new TargetRefusedException(
            "upstream address " + (address == null ? target.getHostString() : address.getHostAddress())
                + " is not public; the proxy refuses to connect to it");
      }
      super.connect(endpoint, timeout);
    }
  }
}
