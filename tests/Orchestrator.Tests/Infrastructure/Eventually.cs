using System.Diagnostics;

namespace Orchestrator.Tests.Infrastructure;

/// <summary>Waits for a condition with a deadline: the only kind of waiting tests do.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Polls <paramref name="probe"/> until it returns a non-null value; fails with
    /// <paramref name="what"/> (and the last value seen) when the deadline passes.</summary>
    public static async Task<T> Until<T>(Func<Task<T?>> probe, string what, TimeSpan? timeout = null) where T : class
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? DefaultTimeout;
        Exception? last = null;
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            try
            {
                if (await probe() is { } value)
                {
                    return value;
                }
            }
            catch (Exception ex)
            {
                last = ex;
            }
            if (deadline.Elapsed > limit)
            {
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}" + (last is null ? "" : $"; last error: {last.Message}"), last);
            }
            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }

    public static Task True(Func<Task<bool>> probe, string what, TimeSpan? timeout = null) =>
        Until<object>(async () => await probe() ? new object() : null, what, timeout);

    public static Task True(Func<bool> probe, string what, TimeSpan? timeout = null) =>
        Until<object>(() => Task.FromResult(probe() ? new object() : null), what, timeout);
}
