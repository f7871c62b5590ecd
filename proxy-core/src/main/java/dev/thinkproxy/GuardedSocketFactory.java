package dev.thinkproxy;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
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
 *
 * <p>The sockets also tell a reading thread when its next read would wait for the network ({@link
 * #beforeWaiting}): OkHttp hands an HTTP/1.1 chunked body over one chunk per read, so whether more of the answer
 * has already arrived is visible only here, below its buffers.
 */
final class GuardedSocketFactory extends SocketFactory {
  private final TargetPolicy policy;
  private final ThreadLocal<Runnable> beforeWaiting = new ThreadLocal<>();

  GuardedSocketFactory(TargetPolicy policy) {
    this.policy = policy;
  }

  /**
   * Until {@link #stopWaitingHook}, a read on this thread from one of these sockets first runs {@code hook} when
   * nothing has arrived that the read could return at once. The hook must not throw.
   */
  void beforeWaiting(Runnable hook) {
    beforeWaiting.set(hook);
  }

  void stopWaitingHook() {
    beforeWaiting.remove();
  }

  @Override
  public Socket createSocket() {
    return new GuardedSocket(policy, beforeWaiting);
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
    private final ThreadLocal<Runnable> beforeWaiting;
    private InputStream input;

    GuardedSocket(TargetPolicy policy, ThreadLocal<Runnable> beforeWaiting) {
      this.policy = policy;
      this.beforeWaiting = beforeWaiting;
    }

    @Override
    public synchronized InputStream getInputStream() throws IOException {
      if (input == null) {
        input = new WaitAwareInput(super.getInputStream(), beforeWaiting);
      }
      return input;
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

  /** Runs the reading thread's hook before a read that would block. */
  private static final class WaitAwareInput extends FilterInputStream {
    private final ThreadLocal<Runnable> beforeWaiting;

    WaitAwareInput(InputStream in, ThreadLocal<Runnable> beforeWaiting) {
      super(in);
      this.beforeWaiting = beforeWaiting;
    }

    @Override
    public int read() throws IOException {
      beforeRead();
      return in.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      beforeRead();
      return in.read(b, off, len);
    }

    private void beforeRead() throws IOException {
      Runnable hook = beforeWaiting.get();
      if (hook != null && in.available() == 0) {
        hook.run();
      }
    }
  }
}
