using Herald.Credentials;
using Herald.Delivery;
using Herald.IntegrationTests.Storage;
using Herald.OAuth;
using Herald.Outbox;
using Herald.Settings;
using Herald.Smtp;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;

namespace Herald.IntegrationTests.OAuth;

/// <summary>A node's services for the OAuth tests (its own database, clock and HTTP stack), and one
/// message sent through a stored connection the way the delivery worker does: secrets opened, a
/// pool session, a token from the node's cache.</summary>
internal static class OAuthNode
{
    public static ServiceProvider Build(TestDatabase database, TimeProvider time, OAuthHttp? http = null)
    {
        var services = new ServiceCollection().AddLogging().AddMetrics().AddSingleton(time);
        if (http is not null)
        {
            services.AddSingleton(http);
        }

        return services
            .AddHeraldCore(new NodePassphrase("oauth tests passphrase", Path.Combine(database.DataDirectory, "credential.key")))
            .AddHeraldStorage(database.Database)
            .AddSingleton(database.Spool)
            .AddHeraldSmtp()
            .AddHeraldOAuth()
            .BuildServiceProvider();
    }

    /// <summary>One message in a session of its own, as after an idle spell: every send shows the server a token.</summary>
    public static async Task<DeliveryResult> SendAsync(ServiceProvider node, SmtpConnection connection, string mailbox, string subject)
    {
        var ct = TestContext.Current.CancellationToken;
        var stored = await node.GetRequiredService<ISettingsStore>().GetConnectionAsync(connection.Id, ct);
        var (opened, problem) = await OpenedConnection.OpenAsync(stored!, node.GetRequiredService<CredentialVault>(), ct);
        Assert.True(opened is not null, problem);
        using (opened)
        {
            var message = new MimeMessage { Subject = subject };
            message.From.Add(MailboxAddress.Parse(mailbox));
            message.To.Add(MailboxAddress.Parse("someone@example.net"));
            message.Body = new TextPart("plain") { Text = "Sent with an OAuth 2.0 token." };
            await using var pool = new SmtpConnectionPool(
                Microsoft.Extensions.Options.Options.Create(new DeliveryOptions()), node.GetRequiredService<TimeProvider>(),
                node.GetRequiredService<UpstreamSizeLimits>(), node.GetRequiredService<AccessTokens>());
            return await pool.SendAsync(new DeliveryRequest(opened, message, mailbox, ["someone@example.net"]), ct);
        }
    }
}
