package dev.thinkproxy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import okhttp3.Dns;

/**
 * Resolves names and refuses the whole name when any of its addresses is refused, which gives a clear 403
 * early and keeps mixed public/private answers from being probed. The socket check stays the real control.
 */
final class PolicyDns implements Dns {
  private final TargetPolicy policy;
  private final Dns delegate;

  PolicyDns(TargetPolicy policy, Dns delegate) {
    this.policy = policy;
    this.delegate = delegate;
  }

  @Override
  public List<InetAddress> lookup(String hostname) throws UnknownHostException {
    List<InetAddress> addresses = delegate.lookup(hostname);
    for (InetAddress a : addresses) {
      // The port is not known here; entries with a port are checked again at connect time.
      if (!policy.permitsAddress(a, -1)) {
        throw new TargetRefusedException(
            "upstream host " + hostname + " resolves to a non-public address (" + a.getHostAddress()
                + "); the proxy refuses to connect to it");
      }
    }
    return addresses;
  }
}
