using System.Text;

namespace Herald.IntegrationTests.Relay;

/// <summary>Messages of a chosen size for the spooling tests: headers, then 76-character lines of
/// pseudo-random text (a fixed seed), one in every fifty starting with a dot, so that
/// dot-stuffing is exercised all the way through.</summary>
internal static class LargeMessages
{
    /// <summary>The message as the client means it: CRLF line ends, not dot-stuffed.</summary>
    public static byte[] Create(int size, string messageId, int seed = 1)
    {
        var random = new Random(seed);
        var text = new StringBuilder(size + 100)
            .Append("From: Scanner <scanner@apps.example.com>\r\nTo: <someone@herald.test>\r\nSubject: large\r\n")
            .Append($"Message-ID: <{messageId}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n");
        for (var line = 0; text.Length < size; line++)
        {
            text.Append(line % 50 == 0 ? '.' : 'x');
            for (var i = 1; i < 76; i++)
            {
                text.Append((char)('a' + random.Next(26)));
            }

            text.Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>The message as it goes on the wire after DATA: leading dots doubled, then the end
    /// of data.</summary>
    public static byte[] Wire(byte[] message)
    {
        var wire = new MemoryStream(message.Length + (message.Length / 40) + 5);
        var lineStart = true;
        foreach (var b in message)
        {
            if (lineStart && b == (byte)'.')
            {
                wire.WriteByte((byte)'.');
            }

            wire.WriteByte(b);
            lineStart = b == (byte)'\n';
        }

        wire.Write(".\r\n"u8);
        return wire.ToArray();
    }
}
