package dev.thinkproxy;

import java.net.UnknownHostException;

/**
 * Thrown from name resolution or from a socket's connect when the policy refuses an address. It extends
 * {@link UnknownHostException} only because OkHttp's {@code Dns} may throw nothing else; it is mapped to 403.
 */
final class TargetRefusedException extends UnknownHostException {
  private static final long serialVersionUID = 1L;

  TargetRefusedException(String message) {
    super(message);
  }
}
