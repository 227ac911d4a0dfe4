using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Herald.Credentials;
using Herald.Settings;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Logging;

namespace Herald.Web.Console;

/// <summary>
/// The console's Data Protection key ring in the database, so that a session signed in on one
/// node, and a form rendered by it, are accepted by every node on that database. Each element is
/// sealed whole with the credential key under its own name: the database never holds the ring in
/// clear, and <c>herald key rotate</c> re-seals it with every other secret. Data Protection calls
/// this synchronously and seldom (the first request, a new key about every 90 days, a refresh
/// about once a day or when a payload names a key it does not know) and caches the ring, so
/// waiting here for the store is cheap.
/// </summary>
public sealed partial class ConsoleKeyRing(IConsoleKeyStore store, CredentialVault vault, ILogger<ConsoleKeyRing> logger) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        var key = Key();
        var elements = new List<XElement>();
        foreach (var (name, secret) in store.ListAsync(CancellationToken.None).GetAwaiter().GetResult())
        {
            if (!key.TryOpen(secret, name, out var xml))
            {
                // Skipped rather than failing the whole ring: the other keys still sign and read.
                LogUnreadable(logger, name);
                continue;
            }

            elements.Add(XElement.Parse(Encoding.UTF8.GetString(xml)));
            CryptographicOperations.ZeroMemory(xml);
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        var key = Key();
        // Data Protection names elements key-{guid} and revocation-{guid or time}.
        var name = SecretNames.ConsoleKey(IsPlainName(friendlyName) ? friendlyName : Guid.NewGuid().ToString("D"));
        var sealedElement = key.Seal(element.ToString(SaveOptions.DisableFormatting), name);
        if (!store.AddAsync(name, sealedElement, key.Parameters, CancellationToken.None).GetAwaiter().GetResult())
        {
            throw new InvalidOperationException(
                $"The console key '{name}' was not stored: the database's credential key is no longer the one this node started with (after 'herald key rotate', restart every node with the new passphrase), or an element of that name exists.");
        }
    }

    private CredentialKey Key()
    {
        var status = vault.GetKeyAsync(initializeDatabase: false, CancellationToken.None).GetAwaiter().GetResult();
        return status.Key ?? throw new InvalidOperationException(status.Problem);
    }

    private static bool IsPlainName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 100 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    [LoggerMessage(Level = LogLevel.Warning, Message = "The console key {Name} in the database cannot be opened with this node's credential key (sealed under another key, or altered); it is left out of the key ring, so sessions and forms signed with it are refused here")]
    private static partial void LogUnreadable(ILogger logger, string name);
}
