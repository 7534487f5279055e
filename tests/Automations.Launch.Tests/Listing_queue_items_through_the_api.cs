using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.Testing;

namespace Automations.Launch.Tests;

[Collection(LaunchCollection.Name)]
public class Listing_queue_items_through_the_api(LaunchFixture f)
{
    private static async Task<HttpResponseMessage> GetAsync(ServiceHost api, string? key, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await api.Client.SendAsync(request);
    }

    [Fact]
    public async Task Should_list_a_queues_items_by_state_for_keys_of_its_entity_only()
    {
        var queue = await f.CreateQueueAsync();
        var job = await f.CreateJobAsync(defaultConfigJson: """{"lr":0.1}""");
        var queued = await f.EnqueueAsync(LaunchFixture.Command(job, queue, """{"lr":0.2}"""));
        var done = await f.EnqueueAsync(LaunchFixture.Command(job, queue));
        var claimed = (await f.ClaimItemAsync(f.AgentKey, queue))!.Value;
        Assert.Equal(queued.QueueItemId, claimed.GetProperty("id").GetGuid());
        (await f.ReportAsync(f.AgentKey, claimed, "finished", new { exitCode = 0 })).EnsureSuccessStatusCode();
        // "done" was enqueued second and is still queued; "queued" (the first) is now finished.
        var member = (await Bootstrap.CreateEntityWithAdminAsync(f.DataSource, "acme", "reader", [ApiKeys.Scopes.Api])).ApiKey;
        var globex = (await Bootstrap.CreateEntityWithAdminAsync(f.DataSource, "globex", "boss2")).ApiKey;

        await using var api = await ServiceHost.StartAsync(Automations.Api.Program.Build, f.ServiceConfiguration());

        using (var all = await GetAsync(api, member, $"/v1/entities/acme/queues/{queue}/items"))
        {
            Assert.Equal(HttpStatusCode.OK, all.StatusCode);
            var items = (await all.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().ToList();
            Assert.Equal([done.QueueItemId, queued.QueueItemId], items.Select(i => i.GetProperty("id").GetGuid()));
        }
        using (var finished = await GetAsync(api, member, $"/v1/entities/acme/queues/{queue}/items?state=finished"))
        {
            var item = Assert.Single((await finished.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray());
            Assert.Equal(queued.QueueItemId, item.GetProperty("id").GetGuid());
            Assert.Equal(0, item.GetProperty("exitCode").GetInt32());
            Assert.Equal(0.2, item.GetProperty("config").GetProperty("lr").GetDouble());
        }
        using (var badState = await GetAsync(api, member, $"/v1/entities/acme/queues/{queue}/items?state=done"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badState.StatusCode);
            Assert.True((await badState.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("state", out _));
        }
        using (var agentOnly = await GetAsync(api, f.AgentKey, $"/v1/entities/acme/queues/{queue}/items"))
            Assert.Equal(HttpStatusCode.Forbidden, agentOnly.StatusCode);
        using (var other = await GetAsync(api, globex, $"/v1/entities/acme/queues/{queue}/items"))
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using (var otherOwn = await GetAsync(api, globex, $"/v1/entities/globex/queues/{queue}/items"))
            Assert.Equal(HttpStatusCode.NotFound, otherOwn.StatusCode);
        using (var anonymous = await GetAsync(api, null, $"/v1/entities/acme/queues/{queue}/items"))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }
}
