package dev.thinkproxy;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Where {@link ChatCompletionProxy} writes the response for the client: a servlet response, a test recorder, or
 * a custom gateway's connection.
 *
 * <p>The proxy calls {@link #start} once, then {@link #write} and {@link #flush} any number of times, then
 * exactly one of {@link #complete} or {@link #abort}. Calls for one exchange never overlap, but they may come
 * from different threads (the proxy's I/O threads), so an implementation must not rely on thread identity.
 *
 * <p>{@code write} and {@code flush} may block: a sink that blocks until the client has taken the bytes makes
 * the proxy stop reading from the upstream, which is how a slow client slows the provider down instead of
 * filling memory. An {@code IOException} from any method means the client is gone: the proxy cancels the
 * upstream call and then calls {@link #abort}.
 */
public interface ResponseSink {

  /**
   * The status and headers for the client, before any body byte. Header names keep their case; a name may
   * repeat.
   *
   * @param status the HTTP status
   * @param headers the response headers in order
   * @throws IOException when the client is gone
   */
  void start(int status, List<Map.Entry<String, String>> headers) throws IOException;

  /**
   * Body bytes, in order. For an event stream, each call holds whole events. The proxy reuses the array once
   * the call returns: a sink that keeps bytes for later keeps a copy.
   *
   * @param bytes the array holding the bytes
   * @param offset where the bytes start in {@code bytes}
   * @param length how many bytes to write
   * @throws IOException when the client is gone
   */
  void write(byte[] bytes, int offset, int length) throws IOException;

  /**
   * Sends everything written so far to the client now. The proxy calls it whenever it has nothing more to write
   * at the moment (the upstream has not sent more yet), not after every write: a sink may hold written bytes
   * until then, and several events that arrived together then go out in one write.
   *
   * @throws IOException when the client is gone
   */
  void flush() throws IOException;

  /** The response ended normally (possibly with an error event as its last bytes). */
  void complete();

  /**
   * The response cannot end normally and no error can be written into it any more (a pass-through body broke
   * half-way, or the client is gone): drop the client connection so the client sees an incomplete response
   * rather than a short one that looks complete.
   *
   * @param cause why the response cannot end normally
   */
  void abort(Throwable cause);
}
