using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>Everything a child process has written so far, stdout and stderr interleaved as
/// they arrived, readable while it runs.</summary>
public sealed class ProcessOutput
{
    private readonly StringBuilder _text = new();

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    public void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_text)
        {
            _text.AppendLine(line);
        }
    }
}

public static class LoopbackPort
{
    /// <summary>A TCP port on 127.0.0.1 that nothing listens on at this moment.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
