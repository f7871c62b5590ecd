package dev.thinkproxy.load;

/** How one stream of the load client ended. */
public enum StreamOutcome {
  /** {@code data: [DONE]} arrived. */
  DONE("done"),
  /** A {@code data: {"error":…}} event arrived (and no [DONE]). */
  ERROR_EVENT("error event"),
  /** The response status was not 200. */
  HTTP_ERROR("HTTP status not 200"),
  /** The response ended cleanly without [DONE] or an error event. */
  ENDED_WITHOUT_DONE("ended without [DONE]"),
  /** The connection was closed or reset before the response was complete. */
  BROKEN("connection broken"),
  /** The connection could not be opened. */
  CONNECT_FAILED("connect failed"),
  /** No connection within the connect timeout, or silence longer than the idle timeout. */
  TIMEOUT("client timeout"),
  /** The client closed the connection on purpose, as planned. */
  ABORTED("aborted by client");

  private final String label;

  StreamOutcome(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }
}
