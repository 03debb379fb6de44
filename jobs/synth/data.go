package synth

// Reference tables. They are read-only; the generator renders them (with
// CSV quoting for the spec's delimiter) once per WritePart call.

// stateInfo is one USPS state code with what the generator derives from it.
type stateInfo struct {
	code     string
	fips     string   // 2-digit state FIPS; "" for military
	popK     int      // population, thousands (2020 census; military: rough)
	zips     [][2]int // inclusive 5-digit zip ranges
	lat, lon float64  // centroid; both 0 for military (no coordinates)
	cities   []string
	areas    []string // telephone area codes
}

// caShare is California's share of rows. The case study's month had
// 7,178,997 CA rows of 309,062,253 (2.32%), far below CA's population
// share; the generator reproduces the case study, other states share the
// rest in proportion to population.
const caShare = 7178997.0 / 309062253.0

var states = []stateInfo{
	{"AL", "01", 5024, [][2]int{{35004, 36925}}, 32.8, -86.8, []string{"Birmingham", "Montgomery", "Huntsville", "Mobile"}, []string{"205", "251", "256", "334"}},
	{"AK", "02", 733, [][2]int{{99501, 99950}}, 61.4, -150.0, []string{"Anchorage", "Fairbanks", "Juneau"}, []string{"907"}},
	{"AZ", "04", 7152, [][2]int{{85001, 86556}}, 34.2, -111.7, []string{"Phoenix", "Tucson", "Mesa", "Chandler"}, []string{"480", "520", "602", "623", "928"}},
	{"AR", "05", 3012, [][2]int{{71601, 72959}}, 34.9, -92.4, []string{"Little Rock", "Fort Smith", "Fayetteville"}, []string{"479", "501", "870"}},
	{"CA", "06", 39538, [][2]int{{90001, 96162}}, 36.8, -119.4, []string{"Los Angeles", "San Diego", "San Jose", "San Francisco", "Fresno", "Sacramento"}, []string{"213", "310", "415", "510", "559", "619", "626", "650", "714", "760", "805", "818", "858", "909", "916", "949"}},
	{"CO", "08", 5774, [][2]int{{80001, 81658}}, 39.0, -105.5, []string{"Denver", "Colorado Springs", "Aurora", "Fort Collins"}, []string{"303", "719", "720", "970"}},
	{"CT", "09", 3606, [][2]int{{6001, 6928}}, 41.6, -72.7, []string{"Bridgeport", "New Haven", "Hartford", "Stamford"}, []string{"203", "475", "860"}},
	{"DE", "10", 990, [][2]int{{19701, 19980}}, 39.0, -75.5, []string{"Wilmington", "Dover", "Newark"}, []string{"302"}},
	{"DC", "11", 690, [][2]int{{20001, 20599}}, 38.9, -77.0, []string{"Washington"}, []string{"202"}},
	{"FL", "12", 21538, [][2]int{{32003, 33994}, {34101, 34997}}, 28.1, -81.6, []string{"Jacksonville", "Miami", "Tampa", "Orlando", "St. Petersburg"}, []string{"305", "321", "352", "386", "407", "561", "727", "786", "813", "904", "954"}},
	{"GA", "13", 10712, [][2]int{{30002, 31999}, {39813, 39901}}, 32.7, -83.4, []string{"Atlanta", "Augusta", "Columbus", "Savannah"}, []string{"229", "404", "470", "478", "678", "706", "770", "912"}},
	{"HI", "15", 1455, [][2]int{{96701, 96898}}, 20.8, -156.3, []string{"Honolulu", "Hilo", "Kailua"}, []string{"808"}},
	{"ID", "16", 1839, [][2]int{{83201, 83877}}, 44.1, -114.7, []string{"Boise", "Meridian", "Nampa"}, []string{"208", "986"}},
	{"IL", "17", 12812, [][2]int{{60001, 62999}}, 40.0, -89.2, []string{"Chicago", "Aurora", "Naperville", "Joliet", "Rockford", "Springfield"}, []string{"217", "309", "312", "618", "630", "708", "773", "815", "847"}},
	{"IN", "18", 6785, [][2]int{{46001, 47997}}, 39.9, -86.3, []string{"Indianapolis", "Fort Wayne", "Evansville", "South Bend"}, []string{"219", "260", "317", "574", "765", "812"}},
	{"IA", "19", 3190, [][2]int{{50001, 52809}}, 42.0, -93.2, []string{"Des Moines", "Cedar Rapids", "Davenport"}, []string{"319", "515", "563", "641", "712"}},
	{"KS", "20", 2937, [][2]int{{66002, 67954}}, 38.5, -98.4, []string{"Wichita", "Overland Park", "Kansas City", "Topeka"}, []string{"316", "620", "785", "913"}},
	{"KY", "21", 4505, [][2]int{{40003, 42788}}, 37.5, -85.3, []string{"Louisville", "Lexington", "Bowling Green"}, []string{"270", "502", "606", "859"}},
	{"LA", "22", 4657, [][2]int{{70001, 71497}}, 31.1, -92.0, []string{"New Orleans", "Baton Rouge", "Shreveport", "Lafayette"}, []string{"225", "318", "337", "504", "985"}},
	{"ME", "23", 1362, [][2]int{{3901, 4992}}, 45.3, -69.2, []string{"Portland", "Lewiston", "Bangor"}, []string{"207"}},
	{"MD", "24", 6177, [][2]int{{20601, 21930}}, 39.0, -76.8, []string{"Baltimore", "Columbia", "Germantown", "Silver Spring"}, []string{"240", "301", "410", "443"}},
	{"MA", "25", 7029, [][2]int{{1001, 2791}, {5501, 5544}}, 42.3, -71.8, []string{"Boston", "Worcester", "Springfield", "Cambridge"}, []string{"339", "413", "508", "617", "774", "781", "857", "978"}},
	{"MI", "26", 10077, [][2]int{{48001, 49971}}, 44.3, -85.4, []string{"Detroit", "Grand Rapids", "Warren", "Lansing", "Ann Arbor"}, []string{"231", "248", "269", "313", "517", "586", "616", "734", "810", "906", "989"}},
	{"MN", "27", 5706, [][2]int{{55001, 56763}}, 46.3, -94.3, []string{"Minneapolis", "Saint Paul", "Rochester", "Duluth"}, []string{"218", "320", "507", "612", "651", "763", "952"}},
	{"MS", "28", 2961, [][2]int{{38601, 39776}}, 32.7, -89.7, []string{"Jackson", "Gulfport", "Southaven", "Hattiesburg"}, []string{"228", "601", "662", "769"}},
	{"MO", "29", 6154, [][2]int{{63001, 65899}}, 38.4, -92.5, []string{"Kansas City", "Saint Louis", "Springfield", "Columbia"}, []string{"314", "417", "573", "636", "660", "816"}},
	{"MT", "30", 1084, [][2]int{{59001, 59937}}, 47.0, -109.6, []string{"Billings", "Missoula", "Great Falls", "Bozeman"}, []string{"406"}},
	{"NE", "31", 1961, [][2]int{{68001, 69367}}, 41.5, -99.8, []string{"Omaha", "Lincoln", "Bellevue", "Grand Island"}, []string{"308", "402", "531"}},
	{"NV", "32", 3104, [][2]int{{88901, 89883}}, 39.3, -116.6, []string{"Las Vegas", "Henderson", "Reno"}, []string{"702", "725", "775"}},
	{"NH", "33", 1377, [][2]int{{3031, 3897}}, 43.7, -71.6, []string{"Manchester", "Nashua", "Concord"}, []string{"603"}},
	{"NJ", "34", 9288, [][2]int{{7001, 8989}}, 40.2, -74.7, []string{"Newark", "Jersey City", "Paterson", "Elizabeth", "Trenton"}, []string{"201", "551", "609", "732", "848", "856", "862", "908", "973"}},
	{"NM", "35", 2117, [][2]int{{87001, 88439}}, 34.4, -106.1, []string{"Albuquerque", "Las Cruces", "Santa Fe", "Rio Rancho"}, []string{"505", "575"}},
	{"NY", "36", 20201, [][2]int{{10001, 14975}, {501, 544}}, 42.9, -75.5, []string{"New York", "Buffalo", "Rochester", "Yonkers", "Syracuse", "Albany"}, []string{"212", "315", "347", "516", "518", "585", "607", "631", "646", "716", "718", "845", "914", "917"}},
	{"NC", "37", 10439, [][2]int{{27006, 28909}}, 35.6, -79.4, []string{"Charlotte", "Raleigh", "Greensboro", "Durham", "Winston-Salem"}, []string{"252", "336", "704", "828", "910", "919", "980", "984"}},
	{"ND", "38", 779, [][2]int{{58001, 58856}}, 47.5, -100.5, []string{"Fargo", "Bismarck", "Grand Forks"}, []string{"701"}},
	{"OH", "39", 11799, [][2]int{{43001, 45999}}, 40.3, -82.8, []string{"Columbus", "Cleveland", "Cincinnati", "Toledo", "Akron"}, []string{"216", "234", "330", "419", "440", "513", "567", "614", "740", "937"}},
	{"OK", "40", 3959, [][2]int{{73001, 74966}}, 35.6, -97.5, []string{"Oklahoma City", "Tulsa", "Norman"}, []string{"405", "539", "580", "918"}},
	{"OR", "41", 4237, [][2]int{{97001, 97920}}, 43.9, -120.6, []string{"Portland", "Salem", "Eugene", "Gresham"}, []string{"458", "503", "541", "971"}},
	{"PA", "42", 13003, [][2]int{{15001, 19640}}, 40.9, -77.8, []string{"Philadelphia", "Pittsburgh", "Allentown", "Erie", "Reading"}, []string{"215", "267", "412", "484", "570", "610", "717", "724", "814"}},
	{"RI", "44", 1097, [][2]int{{2801, 2940}}, 41.7, -71.5, []string{"Providence", "Warwick", "Cranston"}, []string{"401"}},
	{"SC", "45", 5118, [][2]int{{29001, 29945}}, 33.9, -80.9, []string{"Charleston", "Columbia", "North Charleston", "Greenville"}, []string{"803", "843", "854", "864"}},
	{"SD", "46", 887, [][2]int{{57001, 57799}}, 44.4, -100.2, []string{"Sioux Falls", "Rapid City", "Aberdeen"}, []string{"605"}},
	{"TN", "47", 6911, [][2]int{{37010, 38589}}, 35.9, -86.4, []string{"Nashville", "Memphis", "Knoxville", "Chattanooga"}, []string{"423", "615", "629", "731", "865", "901", "931"}},
	{"TX", "48", 29146, [][2]int{{75001, 79999}, {88510, 88595}}, 31.5, -99.3, []string{"Houston", "San Antonio", "Dallas", "Austin", "Fort Worth", "El Paso"}, []string{"210", "214", "254", "281", "325", "361", "409", "432", "469", "512", "713", "806", "817", "830", "832", "903", "915", "936", "940", "956", "972", "979"}},
	{"UT", "49", 3272, [][2]int{{84001, 84791}}, 39.3, -111.7, []string{"Salt Lake City", "West Valley City", "Provo"}, []string{"385", "435", "801"}},
	{"VT", "50", 643, [][2]int{{5001, 5495}, {5601, 5907}}, 44.0, -72.7, []string{"Burlington", "Essex", "South Burlington"}, []string{"802"}},
	{"VA", "51", 8631, [][2]int{{20101, 20199}, {22001, 24658}}, 37.5, -78.8, []string{"Virginia Beach", "Norfolk", "Chesapeake", "Richmond", "Arlington"}, []string{"276", "434", "540", "571", "703", "757", "804"}},
	{"WA", "53", 7705, [][2]int{{98001, 99403}}, 47.4, -120.5, []string{"Seattle", "Spokane", "Tacoma", "Vancouver", "Bellevue"}, []string{"206", "253", "360", "425", "509", "564"}},
	{"WV", "54", 1793, [][2]int{{24701, 26886}}, 38.6, -80.6, []string{"Charleston", "Huntington", "Morgantown"}, []string{"304", "681"}},
	{"WI", "55", 5893, [][2]int{{53001, 54990}}, 44.6, -89.9, []string{"Milwaukee", "Madison", "Green Bay", "Kenosha"}, []string{"262", "414", "608", "715", "920"}},
	{"WY", "56", 576, [][2]int{{82001, 83414}}, 43.0, -107.5, []string{"Cheyenne", "Casper", "Laramie"}, []string{"307"}},
	{"PR", "72", 3285, [][2]int{{601, 795}, {901, 988}}, 18.2, -66.4, []string{"San Juan", "Bayamon", "Carolina", "Ponce"}, []string{"787", "939"}},
	{"VI", "78", 87, [][2]int{{801, 851}}, 18.3, -64.8, []string{"Charlotte Amalie", "Christiansted"}, []string{"340"}},
	{"GU", "66", 154, [][2]int{{96910, 96932}}, 13.4, 144.8, []string{"Hagatna", "Dededo", "Tamuning"}, []string{"671"}},
	{"AS", "60", 50, [][2]int{{96799, 96799}}, -14.3, -170.7, []string{"Pago Pago", "Tafuna"}, []string{"684"}},
	{"MP", "69", 48, [][2]int{{96950, 96952}}, 15.2, 145.7, []string{"Saipan"}, []string{"670"}},
	{"AA", "", 15, [][2]int{{34002, 34099}}, 0, 0, []string{"APO", "FPO", "DPO"}, nil},
	{"AE", "", 110, [][2]int{{9002, 9898}}, 0, 0, []string{"APO", "FPO", "DPO"}, nil},
	{"AP", "", 90, [][2]int{{96201, 96698}}, 0, 0, []string{"APO", "FPO", "DPO"}, nil},
}

var maleNames = []string{
	"James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
	"Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
	"Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan",
	"Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
	"Benjamin", "Samuel", "Gregory", "Alexander", "Frank", "Patrick", "Raymond", "Jack", "Dennis", "Jerry",
	"Tyler", "Aaron", "Jose", "Adam", "Nathan", "Henry", "Douglas", "Zachary", "Peter", "Kyle",
	"Ethan", "Walter", "Noah", "Jeremy", "Christian", "Keith", "Roger", "Terry", "Gerald", "Harold",
	"Sean", "Austin", "Carl", "Arthur", "Lawrence", "Dylan", "Jesse", "Jordan", "Bryan", "Billy",
	"Joe", "Bruce", "Gabriel", "Logan", "Albert", "Willie", "Alan", "Juan", "Wayne", "Elijah",
	"Randy", "Roy", "Vincent", "Ralph", "Eugene", "Russell", "Bobby", "Mason", "Philip", "Louis",
	"Luis", "Carlos", "Miguel", "Wei", "Hiroshi", "Mohammed", "D'Andre", "Jean-Luc", "Tr\u00e2n", "Jos\u00e9",
}

var femaleNames = []string{
	"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
	"Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
	"Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia",
	"Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma", "Nicole", "Helen",
	"Samantha", "Katherine", "Christine", "Debra", "Rachel", "Carolyn", "Janet", "Catherine", "Maria", "Heather",
	"Diane", "Ruth", "Julie", "Olivia", "Joyce", "Virginia", "Victoria", "Kelly", "Lauren", "Christina",
	"Joan", "Evelyn", "Judith", "Megan", "Andrea", "Cheryl", "Hannah", "Jacqueline", "Martha", "Gloria",
	"Teresa", "Ann", "Sara", "Madison", "Frances", "Kathryn", "Janice", "Jean", "Abigail", "Alice",
	"Julia", "Judy", "Sophia", "Grace", "Denise", "Amber", "Doris", "Marilyn", "Danielle", "Beverly",
	"Isabella", "Theresa", "Diana", "Natalie", "Brittany", "Charlotte", "Marie", "Kayla", "Alexis", "Lori",
	"Guadalupe", "Mei", "Yuki", "Fatima", "Mary Ann", "Anne-Marie", "Ren\u00e9e", "Zo\u00eb", "Nguyen", "Chloe",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
	"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
	"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
	"Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
	"Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
	"Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
	"Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
	"Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes",
	"Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
	"O'Brien", "O'Connor", "O'Neil", "D'Angelo", "McDonald", "MacDonald", "De La Cruz", "Van Der Berg",
	"Smith-Jones", "St. John", "Le", "Wang", "Chen", "Zhang", "Yamamoto", "M\u00fcller", "Pe\u00f1a", "Nu\u00f1ez",
}

// nicknames are first names written with a quoted nickname, a classic
// source of CSV quoting bugs.
var nicknames = []string{`Robert "Bob"`, `William "Bill"`, `Elizabeth "Liz"`, `James "Jim"`, `Katherine "Kate"`, `Richard "Dick"`, `Margaret "Peggy"`}

var nameSuffixes = []string{"Jr", "Sr", "II", "III", "IV"}

var streetNames = []string{
	"Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
	"2nd", "3rd", "1st", "4th", "5th", "6th", "7th", "8th", "Walnut", "Sunset",
	"Lincoln", "Jackson", "Church", "River", "Highland", "Willow", "Mill", "Spring", "Franklin", "Jefferson",
	"Center", "Madison", "Ridge", "Meadow", "Forest", "Chestnut", "Adams", "Valley", "Cherry", "Hickory",
	"Dogwood", "Sycamore", "Magnolia", "Birch", "Lakeview", "Woodland", "Hillcrest", "Fairway", "Country Club", "Martin Luther King Jr",
	"El Camino Real", "O'Farrell", "Broadway", "Market", "Mission", "Colorado", "Peachtree", "Ocean", "Bay", "Harbor",
	"Route 9", "County Road 12", "Old Mill", "Prairie", "Canyon", "Mesa", "Desert", "Pinecrest", "Rosewood", "Juniper",
}

var streetSuffixes = []string{"St", "Ave", "Rd", "Dr", "Ln", "Blvd", "Ct", "Way", "Pl", "Cir", "Ter", "Pkwy", "Hwy", "Trl", "Loop"}
var directions = []string{"N", "S", "E", "W", "NE", "NW", "SE", "SW"}
var unitTypes = []string{"APT", "STE", "UNIT", "#", "LOT", "TRLR"}
var addressLine2 = []string{"Bldg 4", "Rear", "c/o Property Manager", "Attn: Accounts Payable", "Floor 3", "PMB 221", "Basement"}

// multiLine are AddressLine2 values spanning lines, written inside quotes.
var multiLine = []string{"Bldg 4\nRear Entrance", "c/o Jane Doe\nSuite 200", "Gate code 1234\nCall on arrival"}

var emailDomains = []string{"gmail.com", "yahoo.com", "hotmail.com", "aol.com", "outlook.com", "icloud.com", "comcast.net", "att.net", "msn.com", "sbcglobal.net"}
var countyNames = []string{"Washington", "Jefferson", "Franklin", "Jackson", "Lincoln", "Madison", "Clay", "Montgomery", "Marion", "Monroe", "Union", "Greene", "Warren", "Wayne", "Polk", "Orange", "Los Angeles", "Cook", "Harris", "Maricopa"}

var maritalStatuses = []string{"M", "S", "D", "W"}
var educations = []string{"High School", "Some College", "Bachelor Degree", "Graduate Degree", "Vocational"}
var occupations = []string{"Professional", "Management", "Technical", "Sales", "Clerical", "Craftsman", "Blue Collar", "Retired", "Homemaker", "Student", "Self Employed", "Military", "Educator", "Health Services", "Farmer"}
var ethnicities = []string{"English", "Hispanic", "German", "Irish", "African American", "Italian", "Asian", "Polish", "French", "Scandinavian", "Jewish", "Middle Eastern", "Native American"}
var languages = []string{"English", "Spanish", "Chinese", "Vietnamese", "Tagalog", "Korean", "Arabic", "French", "German", "Russian"}
var religions = []string{"Protestant", "Catholic", "Jewish", "Muslim", "Buddhist", "Hindu", "Mormon", "Orthodox"}
var parties = []string{"Democrat", "Republican", "Independent", "Libertarian", "Green"}
var dwellingTypes = []string{"Single Family", "Multi-Family", "Condo", "Mobile Home", "Apartment"}
var creditRatings = []string{"A", "B", "C", "D", "E", "F", "G"}

// Attribute vocabularies, chosen by column name (see attrStyle).
var vehicleMakes = []string{"Ford", "Chevrolet", "Toyota", "Honda", "Nissan", "Jeep", "Dodge", "GMC", "Hyundai", "Subaru", "Kia", "BMW", "Mercedes-Benz", "Tesla", "Volkswagen"}
var vehicleModels = []string{"F-150", "Silverado", "Camry", "Civic", "Accord", "Corolla", "CR-V", "RAV4", "Wrangler", "Altima", "Equinox", "Explorer", "Model 3", "Outback", "Sierra"}
var vehicleClasses = []string{"Truck", "SUV", "Sedan", "Compact", "Minivan", "Luxury", "Sports", "Crossover"}
var vehicleFuels = []string{"G", "D", "H", "E", "F"}
var heatingTypes = []string{"Gas", "Electric", "Oil", "Heat Pump", "Propane", "Wood", "Solar"}
var roofTypes = []string{"Asphalt", "Tile", "Metal", "Slate", "Wood Shake", "Composition"}
var exteriorWalls = []string{"Brick", "Vinyl", "Wood", "Stucco", "Stone", "Aluminum", "Block"}
var garageTypes = []string{"Attached", "Detached", "Carport", "None", "Built-In"}
var propertyTypes = []string{"SFR", "CONDO", "TOWNHOUSE", "DUPLEX", "MOBILE", "MULTI"}
var lenderTypes = []string{"Bank", "Credit Union", "Mortgage Company", "FHA", "VA", "Private"}
var rateTypes = []string{"Fixed", "Adjustable", "Balloon", "Interest Only"}
var codeLetters = []string{"A", "B", "C", "D", "E", "F", "G", "H", "J", "K"}
