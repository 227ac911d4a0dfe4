using Herald.Bench.Load;
using Herald.Bench.Processes;
using Herald.Bench.Report;

namespace Herald.Bench.Tests;

public sealed class RelayTests
{
    [Fact]
    public void Both_relays_get_the_same_smtp_source_command_with_reused_sessions()
    {
        var arguments = SmtpSource.Arguments(20, 20_000, 1024, 2525);

        Assert.Equal("smtp-source -d -s 20 -m 20000 -l 1024 -M bench.test -f bench@example.org -t sink@example.org 127.0.0.1:2525", SmtpSource.CommandLine(arguments));
    }

    [Fact]
    public void The_table_has_a_row_per_relay_and_Heralds_ratio_to_Postfix_whichever_ran_first()
    {
        var herald = Figures("Herald relay", 20_000, accepting: 10, endToEnd: 10.5);
        var postfix = Figures("Postfix", 20_000, accepting: 30, endToEnd: 52.5);

        var text = RelayTable.Format([herald, postfix]);
        var reversed = RelayTable.Format([postfix, herald]);

        var rows = text.Split('\n').Select(l => System.Text.RegularExpressions.Regex.Split(l.TrimEnd('\r'), " {2,}")).ToArray();
        Assert.Equal(["relay", "messages", "delivered", "accepting", "msgs/s accepted", "end to end", "msgs/s e2e"], rows[0]);
        Assert.Equal(["Herald relay", "20,000", "20,000", "10.00 s", "2,000", "10.50 s", "1,905"], rows[1]);
        Assert.Equal(["Postfix", "20,000", "20,000", "30.00 s", "667", "52.50 s", "381"], rows[2]);
        Assert.Contains("Herald relay / Postfix: 5.00× end to end, 3.00× accepted.", text, StringComparison.Ordinal);
        Assert.Contains("Herald relay / Postfix: 5.00× end to end, 3.00× accepted.", reversed, StringComparison.Ordinal);
    }

    [Fact]
    public void A_relay_that_did_not_deliver_everything_has_no_rate_and_no_ratio_but_a_note()
    {
        var herald = Figures("Herald relay", 20_000, accepting: 10, endToEnd: 10.5);
        var failed = new RelayFigures("Postfix", "smtp-source …", 20_000, new SourceResult("smtp-source …", 0, TimeSpan.FromSeconds(3), 1, "smtp-source: fatal: 554 5.7.1 Relay access denied"), 0, null);

        var text = RelayTable.Format([herald, failed]);

        Assert.DoesNotContain("×", text, StringComparison.Ordinal);
        Assert.Contains("Postfix: not fully delivered: smtp-source exited with 1: smtp-source: fatal: 554 5.7.1 Relay access denied", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_range_of_free_ports_is_free_from_its_first_to_its_last()
    {
        var first = Ports.FreeRange(4);

        for (var port = first; port < first + 4; port++)
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
        }
    }

    private static RelayFigures Figures(string relay, int messages, double accepting, double endToEnd) =>
        new(relay, "smtp-source …", messages, new SourceResult("smtp-source …", 0, TimeSpan.FromSeconds(accepting), 0, ""), messages, TimeSpan.FromSeconds(endToEnd));
}
