using System.Reflection;

namespace Herald.Tests.Telemetry;

/// <summary>Stands in for an interface: forwards every call to the real implementation and counts them by method.</summary>
public class CountingProxy : DispatchProxy
{
    private readonly Dictionary<string, int> _calls = [];
    private object _inner = null!;

    public static (T Proxy, CountingProxy Counter) Wrap<T>(T inner)
        where T : class
    {
        var proxy = Create<T, CountingProxy>();
        var counter = (CountingProxy)(object)proxy;
        counter._inner = inner;
        return (proxy, counter);
    }

    public int Calls(string method)
    {
        lock (_calls)
        {
            return _calls.GetValueOrDefault(method);
        }
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        lock (_calls)
        {
            _calls[targetMethod.Name] = _calls.GetValueOrDefault(targetMethod.Name) + 1;
        }

        return targetMethod.Invoke(_inner, args);
    }
}
