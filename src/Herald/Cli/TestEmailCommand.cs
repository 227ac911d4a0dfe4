using System.CommandLine;
using Herald.Access;
using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald test-email</c>: send now through a scope's settings and show the outcome.</summary>
internal static class TestEmailCommand
{
    public static Command Create(CliConsole console)
    {
        var to = new Option<string[]>("--to") { Description = "Recipient (repeatable).", Required = true, AllowMultipleArgumentsPerToken = false };
        var scopeOption = new Option<string>("--scope") { Description = "Scope whose settings to use (default /).", DefaultValueFactory = _ => "/" };
        var subject = new Option<string>("--subject") { Description = "Subject.", DefaultValueFactory = _ => "Herald test email" };
        var body = new Option<string>("--body") { Description = "Plain-text body.", DefaultValueFactory = _ => "This is a test email sent by Herald to check the outgoing email settings." };
        var command = new Command("test-email", "Send a test email now and print the outcome with the SMTP transcript (secrets redacted).")
        {
            to, scopeOption, subject, body,
        };

        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(scopeOption), out var scope, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            var recipients = new List<EmailAddress>();
            foreach (var text in parse.GetValue(to) ?? [])
            {
                if (!EmailAddress.TryParse(text, out var address, out var error))
                {
                    return console.Fail($"--to: {error}");
                }

                recipients.Add(address);
            }

            var tested = await node.GetRequiredService<TestEmailService>()
                .SendAsync(Caller.Operator, scope, recipients, parse.GetValue(subject)!, parse.GetValue(body)!, ct);
            if (tested.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            var outcome = tested.Value!;
            if (outcome.Problem is { } problem)
            {
                return console.Fail(problem);
            }

            var result = outcome.Result!;
            var connection = outcome.Connection!;
            console.Out.WriteLine($"Test email for scope {scope} through {connection.Qualified} ({connection.Host}:{connection.Port}, {SmtpSecurityNames.Values.NameOf(connection.Security)}, {SmtpCommands.Describe(connection.Authentication)}):");
            foreach (var recipient in result.Recipients)
            {
                var verdict = recipient.Outcome switch
                {
                    RecipientOutcome.Sent => "sent",
                    RecipientOutcome.TransientFailure => "not sent (temporary failure)",
                    _ => "not sent (permanent failure)",
                };
                console.Out.WriteLine($"  {recipient.Address}: {verdict}: {recipient.Reply?.ToString() ?? recipient.Detail}");
            }

            console.Out.WriteLine("SMTP transcript (secrets redacted):");
            foreach (var line in result.Transcript.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                console.Out.WriteLine("  " + line.TrimEnd('\r'));
            }

            var sent = result.Recipients.Count(r => r.Outcome == RecipientOutcome.Sent);
            if (result.Failure is { } failure)
            {
                return console.Fail($"Not sent: {failure}");
            }

            if (sent < result.Recipients.Count)
            {
                return console.Fail($"Sent to {sent} of {result.Recipients.Count} recipients.");
            }

            console.Out.WriteLine($"Sent to {sent} of {result.Recipients.Count} recipient(s).");
            return 0;
        });

        return command;
    }
}
