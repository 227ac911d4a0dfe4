using System.Diagnostics;
using System.Text.Json;

namespace Herald.IntegrationTests.Outbox;

/// <summary>A message as an administrator reads it from <c>GET /api/v1/messages/{id}</c>: each
/// recipient's state and last reply, and the attempt history.</summary>
internal sealed class MessageView(JsonElement json)
{
    public JsonElement Json { get; } = json;

    public string MessageIdHeader => Json.GetProperty("messageIdHeader").GetString()!;

    public IReadOnlyList<RecipientView> Recipients =>
        OutboxNode.Recipients(Json).Select(r => new RecipientView(
            r.GetProperty("address").GetString()!,
            r.GetProperty("state").GetString()!,
            r.GetProperty("attempts").GetInt32(),
            r.GetProperty("lastCode").ValueKind == JsonValueKind.Number ? r.GetProperty("lastCode").GetInt32() : null,
            r.GetProperty("lastReply").GetString())).ToArray();

    /// <summary>Every attempt for every recipient, oldest first.</summary>
    public IReadOnlyList<AttemptView> Attempts
    {
        get
        {
            var addresses = OutboxNode.Recipients(Json).ToDictionary(r => r.GetProperty("ordinal").GetInt32(), r => r.GetProperty("address").GetString()!);
            return Json.GetProperty("attempts").EnumerateArray().Select(a => new AttemptView(
                addresses[a.GetProperty("ordinal").GetInt32()],
                a.GetProperty("attempt").GetInt32(),
                a.GetProperty("outcome").GetString()!,
                a.GetProperty("code").ValueKind == JsonValueKind.Number ? a.GetProperty("code").GetInt32() : null,
                a.GetProperty("reply").GetString())).ToArray();
        }
    }

    public RecipientView Recipient(string address) => Recipients.Single(r => r.Address == address);

    public IReadOnlyList<AttemptView> AttemptsFor(string address) => Attempts.Where(a => a.Address == address).ToArray();

    public static async Task<MessageView> GetAsync(HttpClient http, string id) =>
        new(JsonDocument.Parse(await http.GetStringAsync(new Uri($"api/v1/messages/{id}", UriKind.Relative))).RootElement);

    /// <summary>Polls the message until <paramref name="condition"/> holds; fails with the last
    /// state seen after <paramref name="timeout"/> (default 30 s).</summary>
    public static async Task<MessageView> WaitAsync(HttpClient http, string id, Func<MessageView, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * (long)(timeout ?? TimeSpan.FromSeconds(30)).TotalSeconds;
        while (true)
        {
            var view = await GetAsync(http, id);
            if (condition(view))
            {
                return view;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"Message {id} did not reach \"{what}\"; last seen: {view.Json}");
            }

            await Task.Delay(100);
        }
    }

    public override string ToString() => Json.ToString();
}

internal sealed record RecipientView(string Address, string State, int Attempts, int? LastCode, string? LastReply);

internal sealed record AttemptView(string Address, int Attempt, string Outcome, int? Code, string? Reply);
