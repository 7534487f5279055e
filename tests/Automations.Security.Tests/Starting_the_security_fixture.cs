using System.Net;

namespace Automations.Security.Tests;

/// <summary>The fixture's principals are what they claim: the admin key reads an admin-only list, the others do not.</summary>
[Trait("Category", "Security")]
public class Starting_the_security_fixture(SecurityFixture fx) : IClassFixture<SecurityFixture>
{
    [Theory]
    [InlineData(Principal.Admin, HttpStatusCode.OK)]
    [InlineData(Principal.Member, HttpStatusCode.Forbidden)]
    [InlineData(Principal.OtherTeamAdmin, HttpStatusCode.NotFound)]
    [InlineData(Principal.EventsOnlyKey, HttpStatusCode.Forbidden)]
    [InlineData(Principal.AgentKey, HttpStatusCode.Forbidden)]
    [InlineData(Principal.NoKey, HttpStatusCode.Unauthorized)]
    [InlineData(Principal.GarbageKey, HttpStatusCode.Unauthorized)]
    [InlineData(Principal.RevokedKey, HttpStatusCode.Unauthorized)]
    public async Task Should_give_each_principal_its_own_rights(Principal principal, HttpStatusCode expected)
    {
        using var response = await SecurityFixture.SendAsync(fx.Api.Client, HttpMethod.Get, "/v1/entities/acme/secrets", null, fx.KeyOf(principal));
        Assert.Equal(expected, response.StatusCode);
    }
}
