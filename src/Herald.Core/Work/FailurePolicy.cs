using System.Data.Common;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Herald.Work;

/// <summary>What an exception thrown while working on an item means for the loop.</summary>
public enum FailureKind
{
    /// <summary>The item's own fault (a template that divides by zero, a message that cannot be
    /// parsed, a bug met by this item): counted against it, retried with backoff, then quarantined.</summary>
    Item,

    /// <summary>Something the item cannot help (the database or the disk unreachable): the item is
    /// tried again later without counting against it.</summary>
    Infrastructure,

    /// <summary>The node is stopping: the loop ends; leases run out and the items are worked on again.</summary>
    Stopping,

    /// <summary>The runtime itself is broken (an invalid program, a type that cannot load): nothing
    /// this node does can work, so the loop ends and <c>herald serve</c> stops, loudly, for a
    /// supervisor to restart it.</summary>
    Fatal,
}

/// <summary>
/// The one place that decides what an exception means, for every background loop (delivery,
/// notification fan-out, digests). Hangfire's <c>IsCatchableExceptionType</c> plays this part:
/// anything not named here is the item's fault, so that nothing an item does stops a loop.
/// </summary>
public static class FailurePolicy
{
    public static FailureKind Classify(Exception exception, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is AggregateException aggregate)
        {
            // The most severe of the inner exceptions decides (a batch written in parallel).
            var inner = aggregate.Flatten().InnerExceptions;
            return inner.Count == 0 ? FailureKind.Item : inner.Select(e => Classify(e, stopping)).Max();
        }

        return exception switch
        {
            OperationCanceledException when stopping.IsCancellationRequested => FailureKind.Stopping,
            // An OutOfMemoryException is not here on purpose: .NET throws it for one allocation it
            // cannot make, typically the item's own (a huge render), and stays consistent after it.
            InvalidProgramException or BadImageFormatException or TypeLoadException or TypeInitializationException
                or MissingMemberException or AccessViolationException or StackOverflowException => FailureKind.Fatal,
            DbException or IOException or SocketException or TimeoutException or ChannelClosedException => FailureKind.Infrastructure,
            // A cancellation that is not the node stopping is a time-out somewhere below.
            OperationCanceledException => FailureKind.Infrastructure,
            _ => FailureKind.Item,
        };
    }

    /// <summary>How a failure is recorded and shown: the exception's type and message, on one
    /// line, at most <see cref="MaxReasonLength"/> characters.</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var root = exception is AggregateException { InnerExceptions.Count: > 0 } aggregate ? aggregate.Flatten().InnerExceptions[0] : exception;
        var text = $"{root.GetType().Name}: {root.Message}".ReplaceLineEndings(" ");
        return text.Length <= MaxReasonLength ? text : text[..(MaxReasonLength - 1)] + "…";
    }

    /// <summary>Longest reason stored with a failed item.</summary>
    public const int MaxReasonLength = 1000;
}
