using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Herald.IntegrationTests.Relay;

/// <summary>A logged entry as a test looks at it.</summary>
public sealed record LoggedEntry(LogLevel Level, string Message, Exception? Exception)
{
    public override string ToString() => $"{Level}: {Message}{(Exception is null ? "" : "\n" + Exception)}";
}

/// <summary>A logger that counts every entry by level and keeps only those at or above
/// <paramref name="kept"/>, so that a long run with a busy log stays small in memory.</summary>
public sealed class CapturingLogger<T>(LogLevel kept) : ILogger<T>
{
    private readonly int[] _counts = new int[(int)LogLevel.None + 1];

    public ConcurrentQueue<LoggedEntry> Entries { get; } = new();

    public int Count(LogLevel level) => Volatile.Read(ref _counts[(int)level]);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        Interlocked.Increment(ref _counts[(int)logLevel]);
        if (logLevel >= kept)
        {
            Entries.Enqueue(new LoggedEntry(logLevel, formatter(state, exception), exception));
        }
    }
}
