using System.Diagnostics;
using System.Reflection;

namespace Herald.Bench.Bounces;

internal static class TimedStore
{
    /// <summary><paramref name="inner"/>, with the awaited calls of <paramref name="method"/> timed.</summary>
    public static TimedStore<T> Wrap<T>(T inner, string method)
        where T : class
    {
        var timer = (TimedStore<T>)(object)DispatchProxy.Create<T, TimedStore<T>>();
        timer.Inner = inner;
        timer.Method = method;
        return timer;
    }
}

/// <summary>A store interface with a stopwatch around the awaited calls of one method, so that
/// Herald's own share splits into recording (that method's database work) and the rest. Public
/// and unsealed because DispatchProxy derives the proxy from it.</summary>
public class TimedStore<T> : DispatchProxy
    where T : class
{
    public TimeSpan Elapsed { get; private set; }

    /// <summary>What callers are given: the proxy itself.</summary>
    public T Store => (T)(object)this;

    internal T Inner { get; set; } = null!;

    internal string Method { get; set; } = "";

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var started = Stopwatch.GetTimestamp();
        var result = targetMethod.Invoke(Inner, args);
        if (targetMethod.Name == Method && result is Task task)
        {
            task.ContinueWith(_ => Elapsed += Stopwatch.GetElapsedTime(started), TaskScheduler.Default);
        }

        return result;
    }
}
