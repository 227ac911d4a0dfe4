using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Herald.Access;
using Herald.Operations;

namespace Herald.Cli;

/// <summary><c>herald doctor</c>: checks the node and its surroundings and prints a table; exits
/// non-zero when a check fails. It reads the database as it is (no migration) and sends no mail.</summary>
internal static class DoctorCommand
{
    /// <summary>As <c>/readyz</c> writes its report: camelCase names, statuses as <c>ok</c>, <c>warn</c>, <c>fail</c>.</summary>
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public static Command Create(CliConsole console)
    {
        var json = new Option<bool>("--json") { Description = "Print the report as JSON ({status, checks: [{name, status, detail}]}), as /readyz answers." };
        var timeout = new Option<int>("--timeout")
        {
            Description = "Seconds each step may take (a DNS lookup, a TCP connect, a TLS handshake…) before it counts as failed (1 to 120).",
            DefaultValueFactory = _ => 10,
        };
        timeout.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 120)
            {
                result.AddError("--timeout must be between 1 and 120 seconds.");
            }
        });

        var command = new Command("doctor", "Check this node: database and migrations, credential key, clock, disk, relay endpoints and every SMTP connection (DNS, TCP, TLS and certificate, EHLO, AUTH; nothing is sent).")
        {
            json,
            timeout,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (dataDirectory, database, unusable) = HeraldCli.ResolveNode(parse, console);
            if (database is null)
            {
                return console.Fail(unusable!);
            }

            // Not migrated first: the doctor reports the schema as it finds it.
            await using var node = HeraldNode.Open(dataDirectory, database, console);
            if (HeraldNode.CheckSettings(node) is { } problem)
            {
                return console.Fail(problem);
            }

            var result = await node.GetRequiredService<NodeDoctor>().DiagnoseAsync(
                Caller.Operator, dataDirectory, TimeSpan.FromSeconds(parse.GetValue(timeout)), cancellationToken);
            if (result.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            var report = result.Value!;
            if (parse.GetValue(json))
            {
                console.Out.WriteLine(JsonSerializer.Serialize(new { report.Status, report.Checks }, Json));
            }
            else
            {
                WriteTable(console.Out, report);
            }

            var failed = report.Failed.Count();
            return failed == 0 ? 0 : console.Fail($"{failed} check(s) failed: {string.Join(", ", report.Failed.Select(c => c.Name))}.");
        });
        return command;
    }

    private static void WriteTable(TextWriter output, NodeReport report)
    {
        var width = Math.Max("CHECK".Length, report.Checks.Max(c => c.Name.Length));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"CHECK".PadRight(width)}  STATUS  DETAIL"));
        foreach (var check in report.Checks)
        {
            var status = check.Status switch
            {
                CheckStatus.Ok => "OK",
                CheckStatus.Warn => "WARN",
                _ => "FAIL",
            };
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{check.Name.PadRight(width)}  {status,-6}  {check.Detail}"));
        }
    }
}
