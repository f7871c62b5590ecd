package dev.thinkproxy.load;

import java.util.Locale;

/**
 * The mock upstream's counters at one moment. {@code open} counts every open connection; of those,
 * {@code idle} wait for a request (kept alive), {@code streaming} are sending a stream and {@code stalled} hold a
 * stream stopped by the stall fault. Streams end as {@code completed}, {@code faulted} (reset, truncate, stall or
 * partial fired) or {@code clientClosed} (the client went away first).
 */
public record MockStats(int open, int idle, int streaming, int stalled, long accepted, long requests,
    long started, long completed, long faulted, long clientClosed) {

  public String toJson() {
    return String.format(Locale.ROOT, "{\"open\":%d,\"idle\":%d,\"streaming\":%d,\"stalled\":%d,\"accepted\":%d,"
        + "\"requests\":%d,\"started\":%d,\"completed\":%d,\"faulted\":%d,\"clientClosed\":%d}",
        open, idle, streaming, stalled, accepted, requests, started, completed, faulted, clientClosed);
  }

  public String toLine() {
    return String.format(Locale.ROOT, "open=%d idle=%d streaming=%d stalled=%d accepted=%d requests=%d "
        + "started=%d completed=%d faulted=%d client-closed=%d",
        open, idle, streaming, stalled, accepted, requests, started, completed, faulted, clientClosed);
  }
}
