using Herald.IntegrationTests.Storage;
using Herald.Testing;

namespace Herald.IntegrationTests.Upgrade;

/// <summary>The databases the previous release made (tests/fixtures/upgrade, by make.sh there)
/// and the TEST-ONLY values that came with them: the credential key, the SMTP account, the API
/// keys and the ids of the messages left queued.</summary>
internal sealed class UpgradeFixture
{
    private readonly Dictionary<string, string> _values;

    private UpgradeFixture(Dictionary<string, string> values) => _values = values;

    public static string Directory => Path.Combine(Repository.Root, "tests", "fixtures", "upgrade");

    public string CredentialKey => _values["CREDENTIAL_KEY"];

    public string SmtpUser => _values["SMTP_USER"];

    public string SmtpPassword => _values["SMTP_PASSWORD"];

    public static UpgradeFixture Load() => new(File.ReadAllLines(Path.Combine(Directory, "fixture.env"))
        .Where(line => line.Length > 0 && !line.StartsWith('#'))
        .Select(line => line.Split('=', 2))
        .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal));

    public string ApiKey(string engine) => _values[$"API_KEY_{engine.ToUpperInvariant()}"];

    public IReadOnlyList<string> QueuedMessages(string engine) => _values[$"MESSAGES_{engine.ToUpperInvariant()}"].Split(',');

    /// <summary>Puts the previous release's database for <paramref name="engine"/> where
    /// <paramref name="database"/> lives, as it was left: nothing of HEAD has touched it yet.</summary>
    public static async Task PlaceAsync(TestDatabase database, CancellationToken cancellationToken)
    {
        if (database.Engine == TestDatabases.Sqlite)
        {
            File.Copy(Path.Combine(Directory, "herald.db"), Path.Combine(database.DataDirectory, "herald.db"));
            return;
        }

        // pg_dump's plain SQL, as psql would run it; it sets search_path to '' for its session.
        await using var connection = await database.Database.OpenAsync(cancellationToken);
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = await File.ReadAllTextAsync(Path.Combine(Directory, "postgres.sql"), cancellationToken);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var reset = connection.CreateCommand())
        {
            reset.CommandText = "RESET search_path";
            await reset.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}
